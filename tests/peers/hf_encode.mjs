// node hf_encode.mjs TOKENIZER.json REQUEST.json
// Encodes and decodes with HuggingFace tokenizers (the Rust library through npm @anush008/tokenizers,
// the binding the goldens were made with). REQUEST.json: {"texts": [...], "add_special_tokens": bool}.
// Prints {"ids": [[...], ...], "decoded": [...]} (decoded = decode(ids, skip_special_tokens=false)).
// With "decode": [[ids], ...] in the request it also prints "decoded_skip_special": decode(ids, true)
// of each.
// Module lookup: ./node_modules (tests/peers/install.sh) or NODE_PATH.
import fs from "fs";
import { createRequire } from "module";

const require = createRequire(import.meta.url);
const { Tokenizer } = require("@anush008/tokenizers");
const [tokFile, requestFile] = process.argv.slice(2);
if (!requestFile) {
  console.error("usage: node hf_encode.mjs TOKENIZER.json REQUEST.json");
  process.exit(2);
}
const request = JSON.parse(fs.readFileSync(requestFile, "utf8"));
const tok = Tokenizer.fromFile(tokFile);
const encodings = await tok.encodeBatch(request.texts, { addSpecialTokens: !!request.add_special_tokens });
const ids = encodings.map((e) => Array.from(e.getIds()));
const decoded = [];
for (const i of ids) decoded.push(await tok.decode(i, false));
const out = { ids, decoded };
if (request.decode) {
  out.decoded_skip_special = [];
  for (const i of request.decode) out.decoded_skip_special.push(await tok.decode(i, true));
}
process.stdout.write(JSON.stringify(out));
