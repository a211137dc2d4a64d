import { describe, expect, it } from "vitest";

import {
  UrlTemplateError,
  checkUrlTemplate,
  compileUrlTemplate,
  parseUrlTemplate,
  renderUrlTemplate,
  type UrlTemplateProblem,
  type UrlTemplateValues,
} from "../src/command/url_template.js";
import { thrownBy } from "./support/errors.js";

const values: UrlTemplateValues = { UserID: "u-42", Code: "XYZ789", OrgID: "org-7" };

const errorOf = (fn: () => unknown): UrlTemplateError => thrownBy(fn, UrlTemplateError);

function expectProblem(action: () => unknown, problem: UrlTemplateProblem, message: string): void {
  const error = errorOf(action);
  expect(error.problem).toBe(problem);
  expect(error.message).toContain(message);
}

describe("rendering valid templates", () => {
  it("given the seed template, when rendered, then every placeholder is replaced", () => {
    // given
    const template =
      "https://example.com/password/changey?userID={{.UserID}}&code={{.Code}}&orgID={{.OrgID}}";

    // when
    const url = renderUrlTemplate(template, values);

    // then
    expect(url).toBe("https://example.com/password/changey?userID=u-42&code=XYZ789&orgID=org-7");
  });

  it.each([
    {
      given: "the <<...>> form",
      template: "https://example.com/r?u=<<.UserID>>&c=<<.Code>>&o=<<.OrgID>>",
      expected: "https://example.com/r?u=u-42&c=XYZ789&o=org-7",
    },
    {
      given: "both forms mixed",
      template: "https://example.com/r?u={{.UserID}}&c=<<.Code>>&o={{.OrgID}}",
      expected: "https://example.com/r?u=u-42&c=XYZ789&o=org-7",
    },
    {
      given: "spaces and tabs inside the braces",
      template: "https://example.com/r?u={{ .UserID }}&c=<<\t.Code\t>>&o={{  .OrgID}}",
      expected: "https://example.com/r?u=u-42&c=XYZ789&o=org-7",
    },
    {
      given: "a placeholder used twice",
      template: "{{.Code}}-{{.Code}}",
      expected: "XYZ789-XYZ789",
    },
    {
      given: "placeholders only",
      template: "{{.UserID}}{{.Code}}<<.OrgID>>",
      expected: "u-42XYZ789org-7",
    },
  ])("given $given, when rendered, then the values are inserted", ({ template, expected }) => {
    expect(renderUrlTemplate(template, values)).toBe(expected);
  });

  it.each([
    { given: "text without placeholders", template: "https://example.com/reset" },
    { given: "the empty template", template: "" },
    { given: "a lone }}", template: "https://example.com/}}" },
    { given: "a lone >>", template: "https://example.com/?a>>b" },
    { given: "single braces and angle brackets", template: "https://example.com/{a}/<b>/{/<" },
    { given: "closing delimiters in a row", template: "}}>>}}}>>>" },
  ])("given $given, when rendered, then it passes through unchanged", ({ template }) => {
    expect(renderUrlTemplate(template, values)).toBe(template);
  });

  it.each([
    { given: "a backslash before a placeholder", template: "a\\{{.Code}}", expected: "a\\XYZ789" },
    { given: "two backslashes before a placeholder", template: "a\\\\{{.Code}}", expected: "a\\\\XYZ789" },
    { given: "a backslash before <<", template: "a\\<<.Code>>", expected: "a\\XYZ789" },
    { given: "a closing }} after a placeholder", template: "{{.Code}}}}x", expected: "XYZ789}}x" },
    { given: "a third closing brace", template: "{{.Code}}}", expected: "XYZ789}" },
    { given: "single braces next to a placeholder", template: "{x}{{.Code}}{y}", expected: "{x}XYZ789{y}" },
    { given: "quotes and a JS template literal", template: "'\"`${x}`{{.Code}}", expected: "'\"`${x}`XYZ789" },
    { given: "line separators and newlines", template: "a\u2028b\u2029c\nd{{.Code}}", expected: "a\u2028b\u2029c\nd" + "XYZ789" },
    { given: "standalone whitespace around a placeholder", template: "  \n  {{.Code}}  \n", expected: "  \n  XYZ789  \n" },
    { given: "HTML in the text", template: "</script><b>&amp;{{.Code}}", expected: "</script><b>&amp;XYZ789" },
  ])("given $given in the literal text, when rendered, then the text is kept as written", ({ template, expected }) => {
    expect(renderUrlTemplate(template, values)).toBe(expected);
  });

  it.each([
    { given: "HTML-special characters", code: `a&b<c>"d'e\`f=` },
    { given: "characters a URL would encode", code: "a b/c?d#e%20f" },
    { given: "handlebars syntax", code: "{{.UserID}}{{#if x}}{{/if}}\\{{x}}" },
    { given: "a backslash at the end", code: "abc\\" },
  ])("given a value with $given, when rendered, then it is inserted verbatim", ({ code }) => {
    expect(renderUrlTemplate("https://example.com/?c={{.Code}}&u=<<.UserID>>", { ...values, Code: code })).toBe(
      `https://example.com/?c=${code}&u=u-42`,
    );
  });

  it("given a compiled template, when rendered twice with different values, then each result uses its own values", () => {
    // given
    const render = compileUrlTemplate("/r?c={{.Code}}");

    // when
    const first = render(values);
    const second = render({ ...values, Code: "OTHER" });

    // then
    expect([first, second]).toEqual(["/r?c=XYZ789", "/r?c=OTHER"]);
  });
});

describe("syntax errors", () => {
  const unknown = "; use {{.UserID}}, {{.Code}} or {{.OrgID}}";
  const unknownAngle = "; use <<.UserID>>, <<.Code>> or <<.OrgID>>";

  it.each([
    { template: "{{}}", message: `unknown placeholder "{{}}" at position 0${unknown}` },
    { template: "https://x/{{.Foo}}", message: `unknown placeholder "{{.Foo}}" at position 10${unknown}` },
    { template: "{{.userID}}", message: `unknown placeholder "{{.userID}}" at position 0` },
    { template: "{{.CODE}}", message: `unknown placeholder "{{.CODE}}" at position 0` },
    { template: "{{UserID}}", message: `unknown placeholder "{{UserID}}" at position 0` },
    { template: "{{. Code}}", message: `unknown placeholder "{{. Code}}" at position 0` },
    { template: "{{.UserID.X}}", message: `unknown placeholder "{{.UserID.X}}" at position 0` },
    { template: "{{#if}}", message: `unknown placeholder "{{#if}}" at position 0` },
    { template: "{{#if .Code}}x{{/if}}", message: `unknown placeholder "{{#if .Code}}" at position 0` },
    { template: "{{> partial}}", message: `unknown placeholder "{{> partial}}" at position 0` },
    { template: `{{lookup . "Code"}}`, message: `unknown placeholder "{{lookup . \\"Code\\"}}" at position 0` },
    { template: "{{{.Code}}}", message: `unknown placeholder "{{{.Code}}" at position 0` },
    { template: "{{!comment}}", message: `unknown placeholder "{{!comment}}" at position 0` },
    { template: "{{!-- .Code --}}", message: `unknown placeholder "{{!-- .Code --}}" at position 0` },
    { template: "{{~.Code~}}", message: `unknown placeholder "{{~.Code~}}" at position 0` },
    { template: "{{@root.Code}}", message: `unknown placeholder "{{@root.Code}}" at position 0` },
    { template: "{{this.Code}}", message: `unknown placeholder "{{this.Code}}" at position 0` },
    { template: "{{../Code}}", message: `unknown placeholder "{{../Code}}" at position 0` },
    { template: "{{\n.Code}}", message: `unknown placeholder "{{\\n.Code}}" at position 0` },
    { template: "{{.constructor}}", message: `unknown placeholder "{{.constructor}}" at position 0` },
    { template: "{{.__proto__}}", message: `unknown placeholder "{{.__proto__}}" at position 0` },
    { template: "{{.toString}}", message: `unknown placeholder "{{.toString}}" at position 0` },
    { template: "{{.hasOwnProperty}}", message: `unknown placeholder "{{.hasOwnProperty}}" at position 0` },
    { template: "<<.__proto__>>", message: `unknown placeholder "<<.__proto__>>" at position 0${unknownAngle}` },
    { template: "x<<.Foo>>", message: `unknown placeholder "<<.Foo>>" at position 1${unknownAngle}` },
    { template: "<<<.Code>>", message: `unknown placeholder "<<<.Code>>" at position 0` },
    { template: "{{ <<.Code>> }}", message: `unknown placeholder "{{ <<.Code>> }}" at position 0` },
    { template: "{{.Code}}&{{.Foo}}", message: `unknown placeholder "{{.Foo}}" at position 10` },
    { template: "\\{{.Foo}}", message: `unknown placeholder "{{.Foo}}" at position 1` },
    { template: "😀😀{{.Foo}}", message: `unknown placeholder "{{.Foo}}" at position 2` },
    { template: "{{", message: `unclosed "{{" at position 0` },
    { template: "abc{{.Code", message: `unclosed "{{" at position 3` },
    { template: "<<.Code", message: `unclosed "<<" at position 0` },
    { template: "{{.Code>>", message: `unclosed "{{" at position 0` },
    { template: "<<.Code}}", message: `unclosed "<<" at position 0` },
    { template: "a}}{{b", message: `unclosed "{{" at position 3` },
    { template: "{{.Code}}<<", message: `unclosed "<<" at position 9` },
  ])("given $template, when compiled, then it is refused with: $message", ({ template, message }) => {
    expectProblem(() => compileUrlTemplate(template), "syntax", message);
    expectProblem(() => checkUrlTemplate(template), "syntax", message);
  });

  it("given an invalid template, when it fails, then the error is a UrlTemplateError", () => {
    // when
    const error = errorOf(() => compileUrlTemplate("{{.Foo}}"));

    // then
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("UrlTemplateError");
  });
});

describe("schemes", () => {
  it.each([
    { template: "javascript:alert({{.Code}})", scheme: "javascript" },
    { template: "JAVASCRIPT:alert(1)//{{.Code}}", scheme: "javascript" },
    { template: " JavaScript:alert(1)", scheme: "javascript" },
    { template: "java\tscript:alert(1)", scheme: "javascript" },
    { template: "java\r\nscript:alert(1)", scheme: "javascript" },
    { template: "\x01javascript:alert(1)", scheme: "javascript" },
    { template: "\x00\x1f \tjavascript:alert(1)", scheme: "javascript" },
    { template: "javascript\t:alert(1)", scheme: "javascript" },
    { template: "data:text/html,<script>alert(1)</script>", scheme: "data" },
    { template: "DATA:text/html;base64,PHNjcmlwdD4=", scheme: "data" },
    { template: "vbscript:msgbox({{.Code}})", scheme: "vbscript" },
    { template: "file:///etc/passwd", scheme: "file" },
  ])("given $template, when checked or rendered, then the $scheme: scheme is refused", ({ template, scheme }) => {
    const message = `links with the ${scheme}: scheme are not allowed`;
    expectProblem(() => checkUrlTemplate(template), "scheme", message);
    expectProblem(() => renderUrlTemplate(template, values), "scheme", message);
  });

  it.each([
    "https://example.com/reset?c={{.Code}}",
    "http://localhost:8080/reset?c={{.Code}}",
    "myapp://reset?user={{.UserID}}&code={{.Code}}",
    "/relative?c={{.Code}}",
    "relative/path?c={{.Code}}",
    "?c={{.Code}}",
    "//example.com/reset?c={{.Code}}",
    "https://example.com/?next=javascript:alert(1)",
    "java\x01script:alert(1)",
  ])("given %j, when checked and rendered, then it is allowed", (template) => {
    expect(() => checkUrlTemplate(template)).not.toThrow();
    expect(() => renderUrlTemplate(template, values)).not.toThrow();
  });

  it("given a template whose scheme comes from the user id, when rendered with a dangerous value, then it is refused", () => {
    // given
    const template = "{{.UserID}}:alert(1)";
    const render = compileUrlTemplate(template);
    expect(() => checkUrlTemplate(template)).not.toThrow();

    // when
    const error = errorOf(() => render({ ...values, UserID: "javascript" }));

    // then
    expect(error.problem).toBe("scheme");
    expect(error.message).toBe("links with the javascript: scheme are not allowed");
  });

  it("given a template whose scheme comes from a value, when rendered with a harmless value, then it is allowed", () => {
    expect(renderUrlTemplate("{{.UserID}}://reset", { ...values, UserID: "myapp" })).toBe("myapp://reset");
  });
});

describe("length limit", () => {
  const prefix = "https://example.com/?c={{.Code}}&x=";

  it("given 200 code points with astral characters, when compiled, then it is accepted", () => {
    // given
    const template = prefix + "😀".repeat(200 - prefix.length);
    expect([...template]).toHaveLength(200);
    expect(template.length).toBeGreaterThan(200);

    // when
    const url = renderUrlTemplate(template, values);

    // then
    expect(url).toBe(template.replace("{{.Code}}", "XYZ789"));
  });

  it.each([
    { given: "201 ASCII characters", template: prefix + "a".repeat(201 - prefix.length) },
    { given: "201 code points with astral characters", template: prefix + "😀".repeat(201 - prefix.length) },
    { given: "a very long template", template: "a".repeat(100_000) },
  ])("given $given, when parsed, then it is refused", ({ template }) => {
    const length = [...template].length;
    const message = `template is ${length} characters long; at most 200 are allowed`;
    expectProblem(() => parseUrlTemplate(template), "syntax", message);
    expectProblem(() => checkUrlTemplate(template), "syntax", message);
  });

  it("given exactly 200 ASCII characters, when parsed, then it is accepted", () => {
    expect(() => parseUrlTemplate(prefix + "a".repeat(200 - prefix.length))).not.toThrow();
  });
});

describe("parseUrlTemplate", () => {
  it("given a mixed template, when parsed, then it yields literal text and placeholders in order", () => {
    expect(parseUrlTemplate("a{{ .Code }}b<<.OrgID>>}}")).toEqual([
      { kind: "text", text: "a" },
      { kind: "placeholder", name: "Code" },
      { kind: "text", text: "b" },
      { kind: "placeholder", name: "OrgID" },
      { kind: "text", text: "}}" },
    ]);
  });
});
