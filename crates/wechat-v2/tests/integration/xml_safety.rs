//! The XML codec against hostile and sloppy input: XXE, billion laughs, oversized bodies,
//! malformed documents — and the tolerant side: CDATA or text, any order, whitespace.

use paygate_wechat_v2::xml::{MAX_BODY, XmlError, decode, encode};

use crate::common::f;

#[test]
fn doctype_and_entities_are_refused() {
    let billion_laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol9 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<xml><a>&lol9;</a></xml>"#;
    assert_eq!(decode(billion_laughs.as_bytes()), Err(XmlError::Doctype));

    let external = r#"<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><appid>&xxe;</appid></xml>"#;
    assert_eq!(decode(external.as_bytes()), Err(XmlError::Doctype));

    let parameter =
        r#"<!DOCTYPE x [<!ENTITY % p SYSTEM "http://attacker.invalid/evil.dtd"> %p;]><xml/>"#;
    assert_eq!(decode(parameter.as_bytes()), Err(XmlError::Doctype));

    let plain_doctype = "<!DOCTYPE xml><xml><a>1</a></xml>";
    assert_eq!(decode(plain_doctype.as_bytes()), Err(XmlError::Doctype));

    // Wherever it appears.
    let late = r#"<xml><a>1</a><!DOCTYPE x [<!ENTITY y "z">]></xml>"#;
    assert_eq!(decode(late.as_bytes()), Err(XmlError::Doctype));

    // Without a DTD, an undeclared entity is never resolved, only refused.
    assert_eq!(
        decode(b"<xml><a>&xxe;</a></xml>"),
        Err(XmlError::Entity("xxe".into()))
    );
}

#[test]
fn the_five_predefined_entities_and_char_refs_are_decoded() {
    let doc = "<xml><a>&lt;&gt;&amp;&apos;&quot;</a><b>&#20013;&#x6587;</b></xml>";
    assert_eq!(
        decode(doc.as_bytes()),
        Ok(f(&[("a", "<>&'\""), ("b", "中文")]))
    );
}

#[test]
fn size_is_checked_before_parsing() {
    let mut big = b"<xml><a>".to_vec();
    big.resize(MAX_BODY + 1, b'x');
    assert_eq!(
        decode(&big),
        Err(XmlError::TooLarge {
            len: MAX_BODY + 1,
            max: MAX_BODY
        })
    );
    // Even a would-be DOCTYPE attack is refused for size first (nothing is parsed).
    let mut hostile = b"<!DOCTYPE x [".to_vec();
    hostile.resize(MAX_BODY + 10, b' ');
    assert!(matches!(decode(&hostile), Err(XmlError::TooLarge { .. })));
    // Exactly at the limit is fine.
    let body = format!("<xml><a>{}</a></xml>", "x".repeat(MAX_BODY - 18));
    assert_eq!(body.len(), MAX_BODY);
    assert!(decode(body.as_bytes()).is_ok());
}

#[test]
fn malformed_documents_are_typed_errors() {
    let malformed: &[&[u8]] = &[
        b"<xml><a>1</a>",
        b"<xml><a>1</b></xml>",
        b"<xml><a>1</a></xml><xml/>",
        b"<xml>loose text<a>1</a></xml>",
        b"<xml><a>1</a></xml>trailing",
        b"<xml><a>&#0;</a></xml>",
        b"<xml><a><![CDATA[1</a></xml>",
        b"<xml><a x=>1</a></xml>",
        b"<",
        b"just text",
    ];
    for doc in malformed {
        let got = decode(doc);
        assert!(
            matches!(got, Err(XmlError::Malformed(_))),
            "{:?} → {got:?}",
            String::from_utf8_lossy(doc)
        );
    }
    assert_eq!(
        decode(b"<xml><a><b>1</b></a></xml>"),
        Err(XmlError::Nested("b".into()))
    );
    assert_eq!(
        decode(b"<xml><a>1</a><a>2</a></xml>"),
        Err(XmlError::DuplicateField("a".into()))
    );
    assert_eq!(
        decode(b"<xml><a>\xff\xfe</a></xml>"),
        Err(XmlError::NotUtf8)
    );
    assert_eq!(decode(b"<!-- only a comment -->"), Err(XmlError::NoRoot));
}

#[test]
fn input_is_tolerant_of_what_wechat_sends() {
    let doc = "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<root>\n  <total_fee>1</total_fee>\n  \
               <appid>\n    <![CDATA[wx2421b1c4370ec43b]]>\n  </appid>\n  <!-- comment -->\n  \
               <attach><![CDATA[支付]]>测试</attach>\n  <device_info/>\n  <body><![CDATA[a]]><![CDATA[b]]></body>\n</root>\n";
    assert_eq!(
        decode(doc.as_bytes()),
        Ok(f(&[
            ("appid", "wx2421b1c4370ec43b"),
            ("attach", "支付测试"),
            ("body", "ab"),
            ("device_info", ""),
            ("total_fee", "1"),
        ]))
    );
    // Element order does not matter; plain text keeps its spaces (they would be signed).
    assert_eq!(
        decode(b"<xml><b> 2 </b><a>1</a></xml>"),
        Ok(f(&[("a", "1"), ("b", " 2 ")]))
    );
}

#[test]
fn output_is_cdata_and_splits_the_terminator() {
    let fields = f(&[("a", "x]]>y]]>"), ("b", "<&>"), ("c", "")]);
    let out = encode(&fields);
    assert_eq!(
        out,
        "<xml><a><![CDATA[x]]]]><![CDATA[>y]]]]><![CDATA[>]]></a><b><![CDATA[<&>]]></b><c><![CDATA[]]></c></xml>"
    );
    assert_eq!(decode(out.as_bytes()), Ok(fields));
}
