/** The language switch: a labelled `<select>` ("Language" / "语言"). */
import { type Lang, t } from "../i18n";

export function LangSelect(props: { lang: Lang; onLang: (l: Lang) => void; id: string }) {
  return (
    <div class="lang">
      <label for={props.id}>{t("nav.language")}</label>
      <select id={props.id} value={props.lang} onChange={(e) => props.onLang((e.currentTarget.value === "zh-CN" ? "zh-CN" : "en") as Lang)}>
        <option value="en">English</option>
        <option value="zh-CN">简体中文</option>
      </select>
    </div>
  );
}
