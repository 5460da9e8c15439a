// OpenSCAD's highlighting for CodeMirror: a small stream parser of its tokens (comments,
// strings with escapes, numbers, keywords, built-in modules and functions, $-variables). Not
// a grammar: enough to read a model by, as the renderer's own reader is a tokenizer too.

import { StreamLanguage, type StreamParser } from "@codemirror/language";

interface ScadState {
  /** Inside a block comment that began on an earlier line. */
  inComment: boolean;
}

const KEYWORDS = new Set([
  "module",
  "function",
  "if",
  "else",
  "for",
  "intersection_for",
  "let",
  "each",
  "assert",
  "echo",
  "include",
  "use",
]);
const ATOMS = new Set(["true", "false", "undef", "PI"]);
const BUILTINS = new Set([
  "cube",
  "sphere",
  "cylinder",
  "polyhedron",
  "square",
  "circle",
  "polygon",
  "text",
  "import",
  "surface",
  "translate",
  "rotate",
  "scale",
  "resize",
  "mirror",
  "multmatrix",
  "color",
  "offset",
  "hull",
  "minkowski",
  "union",
  "difference",
  "intersection",
  "linear_extrude",
  "rotate_extrude",
  "projection",
  "render",
  "children",
  "abs",
  "sign",
  "sin",
  "cos",
  "tan",
  "asin",
  "acos",
  "atan",
  "atan2",
  "floor",
  "round",
  "ceil",
  "ln",
  "log",
  "pow",
  "sqrt",
  "exp",
  "min",
  "max",
  "norm",
  "cross",
  "len",
  "concat",
  "lookup",
  "str",
  "chr",
  "ord",
  "search",
  "rands",
  "is_undef",
  "is_bool",
  "is_num",
  "is_string",
  "is_list",
  "is_function",
]);

const NUMBER = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/;
const WORD = /^\$?[A-Za-z_][A-Za-z0-9_]*/;
const OPERATOR = /^(?:<=|>=|==|!=|&&|\|\||[-+*/%^<>=!?:])/;

function blockComment(stream: Parameters<StreamParser<ScadState>["token"]>[0], state: ScadState): string {
  state.inComment = !stream.skipTo("*/");
  if (state.inComment) stream.skipToEnd();
  else stream.match("*/");
  return "comment";
}

export const openscadParser: StreamParser<ScadState> = {
  name: "openscad",
  startState: () => ({ inComment: false }),
  copyState: (state) => ({ ...state }),
  token(stream, state) {
    if (state.inComment) return blockComment(stream, state);
    if (stream.eatSpace()) return null;
    if (stream.match("//")) {
      stream.skipToEnd();
      return "comment";
    }
    if (stream.match("/*")) return blockComment(stream, state);
    if (stream.eat('"')) {
      let escaped = false;
      for (let char = stream.next(); char !== undefined; char = stream.next()) {
        if (char === '"' && !escaped) break;
        escaped = !escaped && char === "\\";
      }
      return "string";
    }
    if (stream.match(NUMBER)) return "number";
    if (stream.match(WORD)) {
      const word = stream.current();
      if (KEYWORDS.has(word)) return "keyword";
      if (ATOMS.has(word)) return "atom";
      if (BUILTINS.has(word)) return "variableName.definition";
      return word.startsWith("$") ? "variableName.special" : "variableName";
    }
    if (stream.match(OPERATOR)) return "operator";
    stream.next();
    return "punctuation";
  },
  languageData: {
    commentTokens: { line: "//", block: { open: "/*", close: "*/" } },
  },
};

export const openscad = StreamLanguage.define(openscadParser);
