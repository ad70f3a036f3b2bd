// End-to-end check of `moai serve` with the official OpenAI npm client (run by server_e2e_test.cpp):
//   node openai_client.mjs OPENAI_PACKAGE_DIR BASE_URL API_KEY MODEL
// Prints one JSON line with what it saw; exits non-zero on the first failed expectation.
import { pathToFileURL } from "node:url";
import path from "node:path";

const [pkgDir, baseURL, apiKey, model] = process.argv.slice(2);
const { default: OpenAI } = await import(pathToFileURL(path.join(pkgDir, "index.mjs")).href);
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 60000 });
const seen = {};
function check(cond, what) {
  if (!cond) {
    console.log(JSON.stringify({ ok: false, failed: what, seen }));
    process.exit(1);
  }
}

const models = await client.models.list();
seen.models = models.data.map((m) => m.id);
check(seen.models.includes(model), "models.list contains the served model");

const chat = await client.chat.completions.create({
  model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello! 안녕?" }],
  max_tokens: 8, temperature: 0,
});
seen.chat = { content: chat.choices[0].message.content, finish: chat.choices[0].finish_reason, usage: chat.usage };
check(chat.object === "chat.completion", "chat object");
check(typeof chat.choices[0].message.content === "string", "chat content is a string");
check(chat.usage.completion_tokens <= 8 && chat.usage.prompt_tokens > 0, "chat usage");

const again = await client.chat.completions.create({
  model, messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hello! 안녕?" }],
  max_tokens: 8, temperature: 0,
});
check(again.choices[0].message.content === chat.choices[0].message.content, "greedy chat is deterministic");

const stream = await client.chat.completions.create({
  model, messages: [{ role: "user", content: "Count to three." }], max_tokens: 10, temperature: 0, stream: true,
  stream_options: { include_usage: true },
});
let text = "", chunks = 0, finish = null, usage = null, role = null;
for await (const chunk of stream) {
  chunks++;
  if (chunk.usage) usage = chunk.usage;
  const c = chunk.choices[0];
  if (!c) continue;
  if (c.delta.role) role = c.delta.role;
  if (c.delta.content) text += c.delta.content;
  if (c.finish_reason) finish = c.finish_reason;
}
seen.stream = { chunks, text, finish, usage, role };
check(role === "assistant", "stream announces the assistant role");
check(finish === "stop" || finish === "length", "stream finish_reason");
check(usage && usage.completion_tokens <= 10, "stream usage chunk");
const nonStream = await client.chat.completions.create({
  model, messages: [{ role: "user", content: "Count to three." }], max_tokens: 10, temperature: 0,
});
check(nonStream.choices[0].message.content === text, "streamed text equals the non-streamed text");

const comp = await client.completions.create({ model, prompt: "Once upon a time", max_tokens: 5, temperature: 0 });
seen.completion = comp.choices[0];
check(comp.object === "text_completion" && typeof comp.choices[0].text === "string", "completion");

async function expectError(fn, status, what) {
  try {
    await fn();
  } catch (e) {
    seen[what] = { status: e.status, message: e.message };
    check(e.status === status, `${what}: status ${e.status}, expected ${status}`);
    check(e.error && typeof e.error.message === "string", `${what}: OpenAI error body`);
    return;
  }
  check(false, `${what}: expected an error`);
}
await expectError(() => client.chat.completions.create({ model, messages: [] }), 400, "empty_messages");
await expectError(() => client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], temperature: 9 }),
  400, "bad_temperature");
await expectError(() => client.chat.completions.create({ model, messages: [{ role: "user", content: "x" }], max_tokens: 100000000 }),
  400, "huge_max_tokens");
const wrongKey = new OpenAI({ baseURL, apiKey: "wrong", maxRetries: 0 });
await expectError(() => wrongKey.models.list(), 401, "wrong_key");
console.log(JSON.stringify({ ok: true, seen }));
