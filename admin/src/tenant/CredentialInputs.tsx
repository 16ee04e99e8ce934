/**
 * The credential fields of one provider kind: text / password inputs and PEM textareas, each
 * PEM with a file input ("<label> file") that reads the file into the textarea (a `.p12` is
 * read as bytes and base64-encoded). Values live only in the form's state and are dropped when
 * it closes, so a secret is never displayed after saving.
 */
import { credentialFields } from "../channelform";
import { Field } from "../components/ui";
import { t } from "../i18n";
import type { ChannelKind } from "../types";

function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]!);
  return btoa(bin);
}

async function readFile(file: File, binary: boolean): Promise<string> {
  if (binary) return toBase64(new Uint8Array(await file.arrayBuffer()));
  return file.text();
}

export function CredentialInputs(props: {
  kind: ChannelKind;
  idPrefix: string;
  values: Record<string, string>;
  errors: Record<string, string>;
  onChange: (path: string, value: string) => void;
}) {
  return (
    <>
      {credentialFields(props.kind).map((f) => {
        const id = `${props.idPrefix}-${f.path.replace(/[^a-z0-9]+/gi, "-")}`;
        const label = t(f.label);
        const value = props.values[f.path] ?? "";
        const error = props.errors[f.path] ?? null;
        const binary = f.path === "credentials.pkcs12_base64";
        return (
          <Field key={f.path} id={id} field={f.path} label={label} hint={f.required ? undefined : t("common.optional")} error={error}>
            {f.input === "select" ? (
              <select id={id} name={f.path} value={value || f.options?.[0]} onChange={(e) => props.onChange(f.path, e.currentTarget.value)}>
                {(f.options ?? []).map((o) => (
                  <option key={o} value={o}>
                    {o}
                  </option>
                ))}
              </select>
            ) : f.input === "pem" ? (
              <>
                <textarea
                  id={id}
                  name={f.path}
                  rows={4}
                  spellcheck={false}
                  autocomplete="off"
                  required={f.required}
                  aria-invalid={error ? "true" : undefined}
                  value={value}
                  onInput={(e) => props.onChange(f.path, e.currentTarget.value)}
                />
                <label for={`${id}-file`} class="file-label">
                  {t("ch.fileOf", { label })}
                </label>
                <input
                  id={`${id}-file`}
                  type="file"
                  accept={binary ? ".p12,.pfx" : ".pem,.crt,.cer,.key,.txt"}
                  onChange={async (e) => {
                    const file = e.currentTarget.files?.[0];
                    if (file) props.onChange(f.path, await readFile(file, binary));
                  }}
                />
              </>
            ) : (
              <input
                id={id}
                name={f.path}
                type={f.input === "secret" ? "password" : "text"}
                autocomplete="off"
                required={f.required}
                aria-invalid={error ? "true" : undefined}
                value={value}
                onInput={(e) => props.onChange(f.path, e.currentTarget.value)}
              />
            )}
          </Field>
        );
      })}
    </>
  );
}
