// Gives the wasm module's imports from wasm-bindgen's glue short names, in the .wasm and in the glue
// alike. wasm-bindgen names each import after its function plus a 16-digit hash
// (`__wbg_addEventListener_847fd86b8c33ec43`), and each name is written twice, once in the module's
// import section and once as a key of the glue's import object: some 45 names that gzip cannot
// compress, and that no bundler's minifier renames (they are strings to it). docs/wasm-size.md has
// the measurement. The imports from the package's own snippet keep their names (the glue passes that
// module's namespace object as it is), but its module gets a short name too: wasm-bindgen writes its
// long path into every such import, and gives the glue one `import * as …` and one object key per
// import, all alike (bundlers warn of the duplicate keys); they become one of each.
//
// Usage (from scripts/shrink.mjs): renameImports(wasmPath, gluePath).
import { readFileSync, writeFileSync } from "node:fs";

/** Reads an unsigned LEB128 number at `at`; returns [value, next offset]. */
function readLeb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    if (at >= bytes.length) throw new Error("rename-imports: the .wasm ends inside a number");
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}

function leb(value) {
  const out = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    out.push(byte);
  } while (value > 0);
  return out;
}

function name(text) {
  const utf8 = Buffer.from(text, "utf8");
  return [...leb(utf8.length), ...utf8];
}

/** Short identifiers: a … z, A … Z, then two letters. */
function shortName(i) {
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  return i < letters.length ? letters[i] : letters[Math.floor(i / letters.length) - 1] + letters[i % letters.length];
}

/** Where an import's description ends, given where its kind byte is. */
function skipDescription(bytes, at) {
  const kind = bytes[at++];
  const limits = (p) => {
    const flags = bytes[p++];
    [, p] = readLeb(bytes, p);
    if (flags & 1) [, p] = readLeb(bytes, p);
    return p;
  };
  // One-byte value and reference types (numbers, v128, funcref, externref); anything wider is refused.
  const type = (p) => {
    if (![0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f].includes(bytes[p])) {
      throw new Error(`rename-imports: unknown type 0x${bytes[p]?.toString(16)} in an import`);
    }
    return p + 1;
  };
  switch (kind) {
    case 0: return readLeb(bytes, at)[1]; // function: type index
    case 1: return limits(type(at)); // table: element type, limits
    case 2: return limits(at); // memory: limits
    case 3: return type(at) + 1; // global: value type, mutability
    case 4: return readLeb(bytes, at + 1)[1]; // tag: attribute, type index
    default: throw new Error(`rename-imports: unknown import kind ${kind}`);
  }
}

export function renameImports(wasmPath, gluePath) {
  const bytes = readFileSync(wasmPath);
  let glue = readFileSync(gluePath, "utf8");
  const module = "./livepath_bg.js";
  const short = "a";
  const wasmRenamed = bytes.includes(Buffer.from(`\x01${short}`)) && !bytes.includes(Buffer.from(module));
  if (glue.includes(`"${short}": import0`)) {
    if (!wasmRenamed) throw new Error(`rename-imports: ${gluePath} is renamed but ${wasmPath} is not: build again`);
    return 0; // renamed already
  }
  if (!glue.includes(`"${module}": import0`)) throw new Error(`rename-imports: ${gluePath} has no "${module}" import object`);

  const out = [bytes.subarray(0, 8)]; // chunks: a module's bytes are too many to spread
  const renames = new Map();
  const modules = new Map(); // the snippet modules' paths → short names (b, c, …)
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at];
    const [size, start] = readLeb(bytes, at + 1);
    const end = start + size;
    if (id !== 2) {
      out.push(bytes.subarray(at, end));
      at = end;
      continue;
    }
    let [count, p] = readLeb(bytes, start);
    const section = [...leb(count)];
    while (count--) {
      const [moduleLength, m] = readLeb(bytes, p);
      const importModule = bytes.subarray(m, m + moduleLength).toString("utf8");
      const [fieldLength, f] = readLeb(bytes, m + moduleLength);
      const field = bytes.subarray(f, f + fieldLength).toString("utf8");
      const description = f + fieldLength;
      p = skipDescription(bytes, description);
      if (importModule === module) {
        if (!renames.has(field)) renames.set(field, shortName(renames.size));
        section.push(...name(short), ...name(renames.get(field)));
      } else {
        if (!modules.has(importModule)) modules.set(importModule, shortName(modules.size + 1));
        section.push(...name(modules.get(importModule)), ...name(field));
      }
      section.push(...bytes.subarray(description, p));
    }
    out.push(Buffer.from([2, ...leb(section.length), ...section]));
    at = end;
  }

  for (const [field, to] of renames) {
    const key = new RegExp(`\\b${field}(?=: function)`, "g");
    const found = glue.match(key)?.length ?? 0;
    if (found !== 1) throw new Error(`rename-imports: import ${field} appears ${found} times as a key in ${gluePath}`);
    glue = glue.replace(key, to);
  }
  glue = glue.replace(`"${module}": import0`, `"${short}": import0`);
  for (const [path, to] of modules) {
    const quoted = path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const lines = [...glue.matchAll(new RegExp(`^import \\* as (import\\d+) from "${quoted}";?\\n`, "gm"))];
    if (lines.length === 0) throw new Error(`rename-imports: no namespace import of ${path} in ${gluePath}`);
    const keep = lines[0][1];
    for (const [line] of lines.slice(1)) glue = glue.replace(line, "");
    const keys = new RegExp(`^\\s*"${quoted}": import\\d+,\\n`, "gm");
    const first = glue.match(keys)?.[0];
    if (!first) throw new Error(`rename-imports: ${path} is not a key of the imports in ${gluePath}`);
    glue = glue.replace(keys, "").replace(`"${short}": import0,\n`, `"${short}": import0,\n${first.replace(/"[^"]+": import\d+/, `"${to}": ${keep}`)}`);
  }
  writeFileSync(wasmPath, Buffer.concat(out));
  writeFileSync(gluePath, glue);
  return renames.size;
}
