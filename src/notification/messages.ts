/**
 * Message rendering: handlebars layouts (HTML and text parts, subject, SMS)
 * filled with per-language texts. An operator directory may replace any
 * layout file and any text, per file and per key.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Handlebars from "handlebars";
import { renderUrlTemplate } from "../command/url_template.js";
import { ConfigError } from "../errors/errors.js";

export type MessageKind = "passwordReset" | "passwordChanged";

export interface MessageValues {
  displayName: string;
  givenName: string;
  familyName: string;
  username: string;
  code?: string;
  link?: string;
}

export interface RenderedEmail {
  subject: string;
  html: string;
  text: string;
}

export interface Templates {
  email(kind: MessageKind, language: string | undefined, values: MessageValues): RenderedEmail;
  sms(kind: MessageKind, language: string | undefined, values: MessageValues): string;
}

export const FALLBACK_LANGUAGE = "en";

const LAYOUTS = {
  html: "email.html.hbs",
  text: "email.txt.hbs",
  subject: "subject.hbs",
  sms: "sms.hbs",
} as const;

// tsc copies no .hbs files, so the compiled module reads the templates from the sources.
export const BUILT_IN_TEMPLATES = [
  new URL("./templates/", import.meta.url),
  new URL("../../../src/notification/templates/", import.meta.url),
]
  .map((url) => fileURLToPath(url))
  .find((dir) => fs.existsSync(dir))!;

const handlebars = Handlebars.create();

/** A configuration error: the CLI reports it as one line and exits with 2. */
export class TemplateError extends ConfigError {
  /** stable, for logs and searches */
  override readonly id: string = "NOTIFY-Tpl8e";
  override readonly name = "TemplateError";
}

/** Reads and checks every template now, so a broken override stops the start, not a delivery. */
export function loadTemplates(overrideDir?: string): Templates {
  const dirs = overrideDir === undefined ? [BUILT_IN_TEMPLATES] : [BUILT_IN_TEMPLATES, overrideDir];
  const layout = (file: string, escape: boolean) => {
    const source = [...dirs].reverse().map((dir) => path.join(dir, file)).find((f) => fs.existsSync(f))!;
    return compile(fs.readFileSync(source, "utf8"), source, escape);
  };
  const layouts = {
    html: layout(LAYOUTS.html, true),
    text: layout(LAYOUTS.text, false),
    subject: layout(LAYOUTS.subject, false),
    sms: layout(LAYOUTS.sms, false),
  };
  const texts = loadTexts(dirs);

  function context(kind: MessageKind, language: string | undefined, values: MessageValues) {
    const lang = pickLanguage(language, texts.keys());
    const merged = { ...texts.get(FALLBACK_LANGUAGE), ...texts.get(lang) };
    const rendered: Record<string, string> = {};
    const prefix = `${kind}.`;
    for (const [key, render] of Object.entries(merged)) {
      if (key.startsWith(prefix)) rendered[key.slice(prefix.length)] = render(values).trim();
    }
    return { ...values, ...rendered, language: lang };
  }

  return {
    email(kind, language, values) {
      const ctx = context(kind, language, values);
      return {
        subject: layouts.subject(ctx).replace(/\s+/g, " ").trim(),
        html: layouts.html(ctx),
        text: layouts.text(ctx),
      };
    },
    sms: (kind, language, values) => layouts.sms(context(kind, language, values)).trim(),
  };
}

type Render = (values: object) => string;

function compile(source: string, name: string, escape: boolean): Render {
  try {
    handlebars.parse(source);
  } catch (err) {
    // handlebars spreads its message over several lines; keep the position and the reason
    const lines = (err instanceof Error ? err.message : String(err)).split("\n");
    throw new TemplateError(`${name}: ${[...new Set([lines[0], lines.at(-1)])].join(" ")}`);
  }
  return handlebars.compile(source, { noEscape: !escape });
}

/** lang/<language>.txt of every directory; later directories win per key. */
function loadTexts(dirs: readonly string[]): Map<string, Record<string, Render>> {
  const byLanguage = new Map<string, Record<string, Render>>();
  for (const dir of dirs) {
    const langDir = path.join(dir, "lang");
    if (!fs.existsSync(langDir)) continue;
    for (const file of fs.readdirSync(langDir).filter((f) => f.endsWith(".txt")).sort()) {
      const language = normalizeLanguage(file.slice(0, -".txt".length));
      const source = path.join(langDir, file);
      const texts = parseTexts(fs.readFileSync(source, "utf8"), source);
      const compiled = Object.fromEntries(Object.entries(texts).map(([k, v]) => [k, compile(v, `${source} ${k}`, false)]));
      byLanguage.set(language, { ...byLanguage.get(language), ...compiled });
    }
  }
  if (!byLanguage.has(FALLBACK_LANGUAGE)) throw new TemplateError(`no texts for "${FALLBACK_LANGUAGE}"`);
  return byLanguage;
}

/** `key = value` lines; blank lines and lines starting with # are ignored. */
export function parseTexts(source: string, name = "texts"): Record<string, string> {
  const texts: Record<string, string> = {};
  source.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const eq = line.indexOf("=");
    if (eq <= 0) throw new TemplateError(`${name} line ${i + 1}: expected "key = value"`);
    texts[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  });
  return texts;
}

function normalizeLanguage(tag: string): string {
  return tag.trim().toLowerCase().replace(/_/g, "-");
}

/** The preferred language if there are texts for it (or for its base language), else English. */
export function pickLanguage(preferred: string | undefined, available: Iterable<string>): string {
  const known = new Set(available);
  if (preferred) {
    const tag = normalizeLanguage(preferred);
    const base = tag.split("-")[0]!;
    if (known.has(tag)) return tag;
    if (known.has(base)) return base;
  }
  return FALLBACK_LANGUAGE;
}

export interface LinkInput {
  externalUrl: string;
  urlTemplate?: string;
  userId: string;
  orgId: string;
  code: string;
  /** more query parameters of the hosted page's link */
  linkParams?: Readonly<Record<string, string>>;
}

/** The caller's URL template, or the hosted page under the external URL. */
export function resetLink({ externalUrl, urlTemplate, userId, orgId, code, linkParams }: LinkInput): string {
  if (urlTemplate !== undefined) return renderUrlTemplate(urlTemplate, { UserID: userId, Code: code, OrgID: orgId });
  const query = new URLSearchParams({ userID: userId, code, orgID: orgId });
  for (const [name, value] of Object.entries(linkParams ?? {})) if (!query.has(name)) query.set(name, value);
  return `${externalUrl}/ui/login/password/init?${query}`;
}
