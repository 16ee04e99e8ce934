/**
 * Payment channels: list, add (provider kind + credentials), and per channel its credentials
 * versions (add a version, retire an old one). Validation errors from the API are shown next
 * to the field they name (`details.field`); credentials are never shown back.
 */
import { useState } from "preact/hooks";
import { api } from "../api";
import { type Credentials, KINDS, createChannelBody, credentialsDocument, formPaths } from "../channelform";
import { Drawer } from "../components/Drawer";
import { Code, Empty, ErrorMsg, Field, Loading, Pager, StatusMsg, TableWrap, describeError } from "../components/ui";
import { type FormErrors, NO_ERRORS, mapError } from "../fielderrors";
import { formatTime } from "../format";
import { asFailure, useLoad, usePaged } from "../hooks";
import { t } from "../i18n";
import { useIsAdmin } from "../session";
import type { Channel, ChannelKind } from "../types";
import { CredentialInputs } from "./CredentialInputs";

function kindLabel(kind: string): string {
  return kind === "wechat-v2" ? t("ch.kindV2") : kind === "wechat-v3" ? t("ch.kindV3") : kind;
}

export function ChannelsTab(props: { tenantId: string }) {
  const admin = useIsAdmin();
  const list = usePaged((cursor) => api.channels(props.tenantId, { cursor, limit: 50 }), [props.tenantId]);
  const [adding, setAdding] = useState(false);
  const [msg, setMsg] = useState<string | null>(null);
  const [open, setOpen] = useState<Channel | null>(null);
  return (
    <div>
      <div class="page-head">
        <h2>{t("tab.channels")}</h2>
        {admin && !adding ? (
          <button type="button" class="primary" onClick={() => setAdding(true)}>
            {t("ch.add")}
          </button>
        ) : null}
      </div>
      {admin && adding ? (
        <ChannelForm
          tenantId={props.tenantId}
          onCancel={() => setAdding(false)}
          onSaved={(name) => {
            setAdding(false);
            setMsg(t("ch.saved", { name }));
            list.reload();
          }}
        />
      ) : null}
      <StatusMsg text={msg} />
      <ErrorMsg error={list.error} />
      <Loading when={list.loading && !list.data} />
      <Empty when={!!list.data && list.data.data.length === 0} />
      {list.data && list.data.data.length > 0 ? (
        <TableWrap label={t("tab.channels")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("common.name")}</th>
                <th scope="col">{t("ch.provider")}</th>
                <th scope="col">{t("ch.mchId")}</th>
                <th scope="col">{t("common.status")}</th>
                <th scope="col">{t("ch.currentVersion")}</th>
                <th scope="col">{t("common.id")}</th>
                <th scope="col">{t("common.actions")}</th>
              </tr>
            </thead>
            <tbody>
              {list.data.data.map((c) => (
                <tr key={c.id} data-channel-id={c.id}>
                  <td>{c.name}</td>
                  <td>
                    <code>{c.kind}</code>
                  </td>
                  <td>{c.mch_id}</td>
                  <td>
                    <Code value={c.status} />
                  </td>
                  <td class="num">{c.current_version}</td>
                  <td>
                    <code class="id">{c.id}</code>
                  </td>
                  <td>
                    <button type="button" onClick={() => setOpen(c)}>
                      {t("ch.versions")}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      <Pager {...list} />
      {open ? <VersionsDrawer tenantId={props.tenantId} channel={open} onClose={() => setOpen(null)} onChanged={list.reload} /> : null}
    </div>
  );
}

function ChannelForm(props: { tenantId: string; onCancel: () => void; onSaved: (name: string) => void }) {
  const [kind, setKind] = useState<ChannelKind>("wechat-v3");
  const [name, setName] = useState("");
  const [mchId, setMchId] = useState("");
  const [values, setValues] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const saved = await api.createChannel(props.tenantId, createChannelBody(kind, name, mchId, values));
      setValues({});
      props.onSaved(saved.name);
    } catch (err) {
      setErrors(mapError(asFailure(err), formPaths(kind, true), describeError));
      setBusy(false);
    }
  };

  return (
    <form class="card form" onSubmit={submit} aria-label={t("ch.add")} autocomplete="off" noValidate>
      <h3>{t("ch.add")}</h3>
      <ErrorMsg error={errors.general} />
      <Field id="ch-kind" field="kind" label={t("ch.provider")} error={errors.fields.kind ?? null}>
        <select
          id="ch-kind"
          name="kind"
          value={kind}
          onChange={(e) => {
            setKind(e.currentTarget.value as ChannelKind);
            setErrors(NO_ERRORS);
          }}
        >
          {KINDS.map((k) => (
            <option key={k} value={k}>
              {kindLabel(k)}
            </option>
          ))}
        </select>
      </Field>
      <Field id="ch-name" field="name" label={t("common.name")} hint={t("common.optional")} error={errors.fields.name ?? null}>
        <input id="ch-name" name="name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <Field id="ch-mch" field="mch_id" label={t("ch.mchId")} error={errors.fields.mch_id ?? null}>
        <input id="ch-mch" name="mch_id" required inputMode="numeric" value={mchId} onInput={(e) => setMchId(e.currentTarget.value)} />
      </Field>
      <CredentialInputs kind={kind} idPrefix="ch" values={values} errors={errors.fields} onChange={(p, v) => setValues({ ...values, [p]: v })} />
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {t("common.save")}
        </button>
        <button type="button" class="ghost" onClick={props.onCancel}>
          {t("common.cancel")}
        </button>
      </div>
    </form>
  );
}

function VersionsDrawer(props: { tenantId: string; channel: Channel; onClose: () => void; onChanged: () => void }) {
  const admin = useIsAdmin();
  const detail = useLoad(() => api.channel(props.tenantId, props.channel.id), [props.channel.id]);
  const [msg, setMsg] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [adding, setAdding] = useState(false);
  const kind = props.channel.kind as ChannelKind;

  const retire = async (version: number) => {
    setMsg(null);
    setError(null);
    try {
      await api.retireCredentials(props.tenantId, props.channel.id, version);
      setMsg(t("ch.retired", { version }));
      detail.reload();
      props.onChanged();
    } catch (e) {
      setError(describeError(asFailure(e)));
    }
  };

  return (
    <Drawer label={t("ch.versionsOf", { name: props.channel.name })} onClose={props.onClose} wide>
      <StatusMsg text={msg} />
      <ErrorMsg error={error} />
      <ErrorMsg error={detail.error} />
      <Loading when={detail.loading && !detail.data} />
      {detail.data ? (
        <TableWrap label={t("ch.versions")}>
          <table>
            <thead>
              <tr>
                <th scope="col">{t("ch.version")}</th>
                <th scope="col">{t("common.status")}</th>
                <th scope="col">{t("ch.serialOrAppid")}</th>
                <th scope="col">{t("ch.certExpires")}</th>
                <th scope="col">{t("common.created")}</th>
                {admin ? <th scope="col">{t("common.actions")}</th> : null}
              </tr>
            </thead>
            <tbody>
              {detail.data.versions.map((v) => (
                <tr key={v.version} data-version={v.version}>
                  <td class="num">{v.version}</td>
                  <td>{v.current ? <Code value="current" /> : v.retired_at ? <Code value="retired" /> : <Code value="standby" />}</td>
                  <td>{v.merchant_serial ?? v.appid ?? "—"}</td>
                  <td>{formatTime(v.certificate_not_after)}</td>
                  <td>{formatTime(v.created_at)}</td>
                  {admin ? (
                    <td>
                      {!v.current && !v.retired_at ? (
                        <button type="button" onClick={() => retire(v.version)}>
                          {t("ch.retire")}
                        </button>
                      ) : null}
                    </td>
                  ) : null}
                </tr>
              ))}
            </tbody>
          </table>
        </TableWrap>
      ) : null}
      {admin && !adding ? (
        <button type="button" class="primary" onClick={() => setAdding(true)}>
          {t("ch.addCredentials")}
        </button>
      ) : null}
      {admin && adding ? (
        <AddCredentialsForm
          tenantId={props.tenantId}
          channel={props.channel}
          kind={kind}
          onCancel={() => setAdding(false)}
          onSaved={(version) => {
            setAdding(false);
            setMsg(t("ch.versionAdded", { version }));
            detail.reload();
            props.onChanged();
          }}
        />
      ) : null}
    </Drawer>
  );
}

function AddCredentialsForm(props: { tenantId: string; channel: Channel; kind: ChannelKind; onCancel: () => void; onSaved: (version: number) => void }) {
  const [values, setValues] = useState<Record<string, string>>({});
  const [errors, setErrors] = useState<FormErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setErrors(NO_ERRORS);
    try {
      const credentials: Credentials = credentialsDocument(props.kind, props.channel.mch_id, values);
      const v = await api.addCredentials(props.tenantId, props.channel.id, { credentials });
      setValues({});
      props.onSaved(v.version);
    } catch (err) {
      setErrors(mapError(asFailure(err), formPaths(props.kind, false), describeError));
      setBusy(false);
    }
  };
  return (
    <form class="form" onSubmit={submit} aria-label={t("ch.addCredentials")} autocomplete="off" noValidate>
      <h3>{t("ch.addCredentials")}</h3>
      <ErrorMsg error={errors.general} />
      <CredentialInputs kind={props.kind} idPrefix="cv" values={values} errors={errors.fields} onChange={(p, v) => setValues({ ...values, [p]: v })} />
      <div class="row">
        <button type="submit" class="primary" disabled={busy}>
          {t("common.save")}
        </button>
        <button type="button" class="ghost" onClick={props.onCancel}>
          {t("common.cancel")}
        </button>
      </div>
    </form>
  );
}
