/**
 * The rules of ARCHITECTURE.md, checked on every file in src/: a folder imports
 * only from its own layer or the layers below it (with the exceptions listed
 * there), no import circle, no file over 300 lines.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/** Top to bottom; folders on one line are one layer. */
const LAYERS: readonly (readonly string[])[] = [
  ["cli"],
  ["server"],
  ["config"],
  ["api", "auth0", "ui", "metrics"],
  ["ratelimit"],
  ["notification"],
  ["query"],
  ["command"],
  ["eventstore"],
  ["crypto", "errors", "http", "logger", "pending_calls"],
];

/** Imports that run up a layer, each explained in ARCHITECTURE.md: "from -> to". */
const ALLOWED_BACK_IMPORTS = new Set<string>([]);

const MAX_LINES = 300;
const SRC = join(import.meta.dirname, "..", "src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

/** src-relative paths of the files a file imports (static, dynamic, type-only and re-exports); generated code left out. */
function importsOf(file: string): string[] {
  const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
  return importedFiles
    .map((ref) => ref.fileName)
    .filter((spec) => spec.startsWith("."))
    .map((spec) => relative(SRC, normalize(join(dirname(file), spec))).replace(/\.js$/, ".ts"))
    .filter((path) => !path.startsWith(".."));
}

const folderOf = (path: string) => path.split("/")[0]!.replace(/\.ts$/, "");

function layerOf(path: string): number {
  const index = LAYERS.findIndex((layer) => layer.includes(folderOf(path)));
  if (index < 0) throw new Error(`src/${path}: its folder "${folderOf(path)}" has no layer in ARCHITECTURE.md`);
  return index;
}

const files = sourceFiles(SRC).map((file) => relative(SRC, file));
const graph = new Map(files.map((path) => [path, importsOf(join(SRC, path))]));

/** Strongly connected components of more than one file (Tarjan). */
function importCircles(): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const circles: string[][] = [];
  const visit = (file: string) => {
    index.set(file, next);
    low.set(file, next++);
    stack.push(file);
    for (const target of graph.get(file) ?? []) {
      if (!graph.has(target)) continue;
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file)!, low.get(target)!));
      } else if (stack.includes(target)) {
        low.set(file, Math.min(low.get(file)!, index.get(target)!));
      }
    }
    if (low.get(file) === index.get(file)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        component.push(member);
      } while (member !== file);
      if (component.length > 1) circles.push(component.sort());
    }
  };
  for (const file of files) if (!index.has(file)) visit(file);
  return circles;
}

describe("architecture", () => {
  it("every import resolves to a file in src/", () => {
    const missing = [...graph].flatMap(([from, targets]) => targets.filter((t) => !graph.has(t)).map((t) => `${from} -> ${t}`));
    expect(missing).toEqual([]);
  });

  it("every folder belongs to a layer", () => {
    for (const file of files) expect(() => layerOf(file)).not.toThrow();
  });

  it("no folder imports from a layer above its own, but for the listed exceptions", () => {
    const backImports = [...graph].flatMap(([from, targets]) =>
      targets.filter((to) => graph.has(to) && layerOf(to) < layerOf(from)).map((to) => `${from} -> ${to}`),
    );
    expect(backImports.filter((edge) => !ALLOWED_BACK_IMPORTS.has(edge))).toEqual([]);
    expect(ALLOWED_BACK_IMPORTS.size).toBeLessThanOrEqual(3);
  });

  it("has no import circle", () => {
    expect(importCircles()).toEqual([]);
  });

  it(`has no file over ${MAX_LINES} lines`, () => {
    const long = files
      .map((path) => ({ path, lines: readFileSync(join(SRC, path), "utf8").split("\n").length - 1 }))
      .filter(({ lines }) => lines > MAX_LINES)
      .map(({ path, lines }) => `${path}: ${lines}`);
    expect(long).toEqual([]);
  });
});
