// Checks tenantd's REST responses against docs/openapi.yaml, one exchange per line.
//
//   node validate-responses.mjs docs/openapi.yaml
//
// stdin: one JSON object per line, {method, path, status, headers: {lowercase name: value}, body}
// as the e2e tests' HTTP client received it. stdout: one line per exchange, "ok" or what the
// document does not allow. The e2e client fails the test on anything but "ok", so the document
// and the daemon cannot drift apart.
//
// What is checked: the path and method are documented (else the answer must be one listed
// under the document's `x-tenantd-unrouted` responses: 404, 405, ...); the status is listed for the operation (no `default`); the
// Content-Type is one the response declares; a JSON body matches its schema (JSON Schema
// 2020-12, as OpenAPI 3.1 uses); every required header is present, every documented header
// present matches its schema, and the headers tenantd owns (RateLimit-*, Retry-After, ETag) are
// not sent where the document does not declare them.

import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import yaml from 'js-yaml';

const docPath = process.argv[2];
if (!docPath) {
  console.error('usage: validate-responses.mjs OPENAPI.yaml');
  process.exit(2);
}
const doc = yaml.load(readFileSync(docPath, 'utf8'));

// The whole document is one schema resource, so `#/components/...` references resolve inside
// it. OpenAPI's own keywords (example, discriminator, ...) are not JSON Schema: not strict.
// The document itself is checked by `redocly lint`, not again at every start.
const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
addFormats(ajv);
const DOC_ID = 'tenantd-openapi';
ajv.addSchema(doc, DOC_ID);

const OWNED_HEADERS = ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset', 'ratelimit-policy',
  'retry-after', 'etag'];

function pointerEscape(s) {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

// The object at a JSON pointer ("/components/schemas/Error") in the document.
function at(pointer) {
  return pointer.slice(1).split('/').reduce(
    (o, k) => o?.[k.replace(/~1/g, '/').replace(/~0/g, '~')], doc);
}

function resolve(obj) {
  let seen = 0;
  while (obj && obj.$ref) {
    if (!obj.$ref.startsWith('#/') || ++seen > 16) throw new Error(`unresolvable $ref ${obj.$ref}`);
    obj = at(obj.$ref.slice(1));
  }
  return obj;
}

// Literal paths first, then templates with fewer parameters.
const routes = Object.keys(doc.paths ?? {}).map((template) => {
  const names = [];
  const pattern = template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{([^}]+)\}/g, (_, n) => {
    names.push(n);
    return '([^/]+)';
  });
  return { template, regex: new RegExp(`^${pattern}$`), params: names.length };
}).sort((a, b) => a.params - b.params);

const validators = new Map();
function validatorFor(pointer) {
  let v = validators.get(pointer);
  if (!v) {
    v = ajv.getSchema(`${DOC_ID}#${pointer}`);
    if (!v) throw new Error(`no schema at ${pointer}`);
    validators.set(pointer, v);
  }
  return v;
}

function schemaErrors(pointer, value) {
  const v = validatorFor(pointer);
  if (v(value)) return [];
  return v.errors.map((e) => `${e.instancePath || '(root)'} ${e.message}` +
    (e.params && Object.keys(e.params).length ? ` ${JSON.stringify(e.params)}` : ''));
}

function headerValue(schema, text) {
  const s = resolve(schema) ?? {};
  const types = [].concat(s.type ?? []);
  if ((types.includes('integer') || types.includes('number')) && /^-?[0-9]+(\.[0-9]+)?$/.test(text)) {
    return Number(text);
  }
  return text;
}

function check(x) {
  const problems = [];
  const where = `${x.method} ${x.path} -> ${x.status}`;
  const path = x.path.split('?')[0];
  const route = routes.find((r) => r.regex.test(path));
  // A path no route takes, or a method a path does not serve, is answered by the daemon
  // before any operation: those answers are documented under `x-tenantd-unrouted`.
  let responsesPointer = '/x-tenantd-unrouted/responses';
  let responses = doc['x-tenantd-unrouted']?.responses ?? {};
  const op = route ? doc.paths[route.template][x.method.toLowerCase()] : undefined;
  if (op) {
    responses = op.responses ?? {};
    responsesPointer = `/paths/${pointerEscape(route.template)}/${x.method.toLowerCase()}/responses`;
  }
  const statusKey = String(x.status);
  const rangeKey = `${statusKey[0]}XX`;
  let response = responses[statusKey] ?? responses[rangeKey];
  if (!response) return [`${where}: status ${x.status} is not documented for this operation`];
  // A JSON pointer to the final response object (after any $ref chain), so its schemas compile
  // with their references intact.
  let responsePointer = response.$ref ? response.$ref.slice(1)
    : `${responsesPointer}/${responses[statusKey] ? statusKey : rangeKey}`;
  for (let hops = 0; at(responsePointer)?.$ref; ++hops) {
    if (hops > 16) throw new Error(`$ref loop at ${responsePointer}`);
    responsePointer = at(responsePointer).$ref.slice(1);
  }
  response = at(responsePointer);

  // Body.
  const contentType = (x.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const content = response.content ?? {};
  if (Object.keys(content).length === 0) {
    if (x.body.length > 0) problems.push(`${where}: body sent where none is documented`);
  } else {
    const mediaKey = Object.keys(content).find((k) => k.toLowerCase() === contentType);
    if (!mediaKey) {
      problems.push(`${where}: Content-Type "${contentType}" not among ${Object.keys(content).join(', ')}`);
    } else if (mediaKey.endsWith('json')) {
      let body;
      try {
        body = JSON.parse(x.body);
      } catch (e) {
        problems.push(`${where}: body is not JSON: ${e.message}`);
      }
      if (body !== undefined && content[mediaKey].schema) {
        const pointer = `${responsePointer}/content/${pointerEscape(mediaKey)}/schema`;
        for (const e of schemaErrors(pointer, body)) problems.push(`${where}: body ${e}`);
      }
    } else if (content[mediaKey].schema) {
      const pointer = `${responsePointer}/content/${pointerEscape(mediaKey)}/schema`;
      for (const e of schemaErrors(pointer, x.body)) problems.push(`${where}: body ${e}`);
    }
  }

  // Headers.
  const documented = {};
  for (const [name, h] of Object.entries(response.headers ?? {})) documented[name.toLowerCase()] = h;
  for (const [name, h] of Object.entries(documented)) {
    if (name === 'content-type') continue;
    const header = resolve(h);
    const value = x.headers[name];
    if (value === undefined) {
      if (header.required) problems.push(`${where}: required header ${name} missing`);
      continue;
    }
    if (header.schema) {
      const v = headerValidator(header.schema);
      if (!v(headerValue(header.schema, value))) {
        problems.push(`${where}: header ${name}: "${value}" ${ajv.errorsText(v.errors)}`);
      }
    }
  }
  for (const name of OWNED_HEADERS) {
    if (x.headers[name] !== undefined && !documented[name]) {
      problems.push(`${where}: header ${name} sent but not documented`);
    }
  }
  return problems;
}

// Header schemas are small and usually inline: compiled once each, their `#/...` references
// pointed at the document.
const headerValidators = new Map();
function headerValidator(schema) {
  const key = JSON.stringify(schema);
  let v = headerValidators.get(key);
  if (!v) {
    v = ajv.compile({ $id: `header-${headerValidators.size}`, ...rewriteRefs(schema) });
    headerValidators.set(key, v);
  }
  return v;
}
function rewriteRefs(s) {
  if (Array.isArray(s)) return s.map(rewriteRefs);
  if (s && typeof s === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(s)) {
      out[k] = k === '$ref' && typeof v === 'string' && v.startsWith('#') ? `${DOC_ID}${v}` : rewriteRefs(v);
    }
    return out;
  }
  return s;
}

// The test process is gone (it exits without waiting for us): nothing left to answer.
process.stdout.on('error', () => process.exit(0));
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (line.trim() === '') continue;
  let problems;
  try {
    problems = check(JSON.parse(line));
  } catch (e) {
    problems = [`validator: ${e.message}`];
  }
  process.stdout.write(problems.length === 0 ? 'ok\n' : `${problems.join('; ').replace(/\n/g, ' ')}\n`);
}
