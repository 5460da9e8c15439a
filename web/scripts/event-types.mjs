// The TypeScript types of the live events, from the JSON Schema the bus contract gives
// (`python -m services.contract user-events-schema`), read on stdin and written to stdout.
// `make contracts` runs it; tests/contract/test_messages.py checks the committed output.
import { compile } from "json-schema-to-typescript";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const schema = JSON.parse(Buffer.concat(chunks).toString("utf8"));

const banner = [
  "/* Made by `make contracts` from the bus contract (libs/bus/events.py): do not edit.",
  " * An event as the user's live connection delivers it: the envelope's type, id, time and",
  " * schema_version beside the payload's fields. Events of a newer release may carry fields",
  " * and types not listed here: ignore what you do not know. */",
].join("\n");

process.stdout.write(
  await compile(schema, "UserEvent", {
    bannerComment: banner,
    additionalProperties: false,
    unreachableDefinitions: true,
    strictIndexSignatures: true,
    format: true,
    style: { printWidth: 100 },
  }),
);
