import Handlebars from "handlebars";

export interface UrlTemplateValues {
  UserID: string;
  Code: string;
  OrgID: string;
}

export type UrlTemplateProblem = "syntax" | "scheme";

export class UrlTemplateError extends Error {
  /** stable, for logs and searches */
  readonly id: string = "COMMAND-Urlt6";
  override readonly name = "UrlTemplateError";

  constructor(
    readonly problem: UrlTemplateProblem,
    message: string,
  ) {
    super(message);
  }
}

type Placeholder = keyof UrlTemplateValues;

export type UrlTemplatePart =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "placeholder"; readonly name: Placeholder };

/** Maximum template length in Unicode code points. */
export const MAX_URL_TEMPLATE_LENGTH = 200;

const PLACEHOLDERS: ReadonlySet<string> = new Set<Placeholder>(["UserID", "Code", "OrgID"]);
const CLOSING = { "{{": "}}", "<<": ">>" } as const;
const PLACEHOLDER_BODY = /^[ \t]*\.([A-Za-z]+)[ \t]*$/;

const FORBIDDEN_SCHEMES: ReadonlySet<string> = new Set(["javascript", "data", "vbscript", "file"]);
const SAMPLE_VALUES: UrlTemplateValues = { UserID: "1", Code: "ABC123", OrgID: "1" };

const handlebars = Handlebars.create();

/**
 * Splits a template into literal text and the three known placeholders.
 * Positions in error messages are 0-based code-point offsets.
 */
export function parseUrlTemplate(template: string): UrlTemplatePart[] {
  const length = codePointLength(template);
  if (length > MAX_URL_TEMPLATE_LENGTH) {
    throw new UrlTemplateError(
      "syntax",
      `template is ${length} characters long; at most ${MAX_URL_TEMPLATE_LENGTH} are allowed`,
    );
  }

  const parts: UrlTemplatePart[] = [];
  const opening = /\{\{|<</g;
  let cursor = 0;
  for (let match = opening.exec(template); match !== null; match = opening.exec(template)) {
    const open = match[0] as keyof typeof CLOSING;
    const close = CLOSING[open];
    const start = match.index;
    const end = template.indexOf(close, start + open.length);
    if (end === -1) {
      throw new UrlTemplateError("syntax", `unclosed "${open}" at position ${positionOf(template, start)}`);
    }

    const name = PLACEHOLDER_BODY.exec(template.slice(start + open.length, end))?.[1];
    if (name === undefined || !isPlaceholder(name)) {
      const fragment = template.slice(start, end + close.length);
      const known = [...PLACEHOLDERS].map((placeholder) => `${open}.${placeholder}${close}`);
      throw new UrlTemplateError(
        "syntax",
        `unknown placeholder ${JSON.stringify(fragment)} at position ${positionOf(template, start)}; ` +
          `use ${known[0]}, ${known[1]} or ${known[2]}`,
      );
    }

    if (start > cursor) parts.push({ kind: "text", text: template.slice(cursor, start) });
    parts.push({ kind: "placeholder", name });
    cursor = opening.lastIndex = end + close.length;
  }
  if (cursor < template.length) parts.push({ kind: "text", text: template.slice(cursor) });
  return parts;
}

/** Parses and compiles a template; throws UrlTemplateError("syntax") for invalid input. */
export function compileUrlTemplate(template: string): (values: UrlTemplateValues) => string {
  // The AST is built from our own parts, so the handlebars tokenizer never sees the
  // caller's text and no helper, partial, block or property path can be expressed.
  const render = handlebars.compile<UrlTemplateValues>(toProgram(parseUrlTemplate(template)), {
    strict: true,
    knownHelpersOnly: true,
    noEscape: true,
    data: false,
    preventIndent: true,
  });

  return (values) => {
    const url = render({ UserID: values.UserID, Code: values.Code, OrgID: values.OrgID });
    const scheme = schemeOf(url);
    if (scheme !== undefined && FORBIDDEN_SCHEMES.has(scheme)) {
      throw new UrlTemplateError("scheme", `links with the ${scheme}: scheme are not allowed`);
    }
    return url;
  };
}

/**
 * Checks a template without real values: syntax, and the scheme it would produce with
 * sample values (UserID "1", Code "ABC123", OrgID "1"). Throws UrlTemplateError.
 */
export function checkUrlTemplate(template: string): void {
  compileUrlTemplate(template)(SAMPLE_VALUES);
}

/** compile + render in one go. */
export function renderUrlTemplate(template: string, values: UrlTemplateValues): string {
  return compileUrlTemplate(template)(values);
}

function isPlaceholder(name: string): name is Placeholder {
  return PLACEHOLDERS.has(name);
}

function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

function positionOf(template: string, index: number): number {
  return codePointLength(template.slice(0, index));
}

/**
 * Lower-cased scheme as a browser would see it: the URL parser drops leading C0 controls
 * and spaces and ignores tab, CR and LF anywhere, so "\x01java\tscript:" is "javascript".
 */
function schemeOf(url: string): string | undefined {
  const normalized = url.replace(/^[\u0000-\u0020]+/, "").replace(/[\t\r\n]/g, "");
  return /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(normalized)?.[1]?.toLowerCase();
}

const LOC: hbs.AST.SourceLocation = {
  source: "url-template",
  start: { line: 1, column: 0 },
  end: { line: 1, column: 0 },
};

function toProgram(parts: readonly UrlTemplatePart[]): hbs.AST.Program {
  return { type: "Program", body: parts.map(toStatement), blockParams: [], loc: LOC };
}

function toStatement(part: UrlTemplatePart): hbs.AST.Statement {
  if (part.kind === "text") {
    // `original` is omitted: the bundled typings mistype it and only whitespace control reads it.
    const content: Omit<hbs.AST.ContentStatement, "original"> = {
      type: "ContentStatement",
      value: part.text,
      loc: LOC,
    };
    return content;
  }

  const path: hbs.AST.PathExpression = {
    type: "PathExpression",
    data: false,
    depth: 0,
    parts: [part.name],
    original: part.name,
    loc: LOC,
  };
  // No `hash`: its mere presence makes handlebars treat the mustache as a helper call.
  const mustache: Omit<hbs.AST.MustacheStatement, "hash"> = {
    type: "MustacheStatement",
    path,
    params: [],
    escaped: false,
    strip: { open: false, close: false },
    loc: LOC,
  };
  return mustache;
}
