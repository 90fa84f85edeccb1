// extract.cjs reads Microsoft's generated JavaScript SDKs for Azure
// Resource Manager (npm packages @azure/arm-*, AutoRest "track 2": models
// as serializer mappers plus one operation spec per REST operation) and
// writes the compact model that internal/cloudsim/conformance judges the
// Azure traffic with: every operation (path template, verb, api-version,
// URL and query parameters, request body model, response models by status)
// and every model reachable from them (wire names, types, required,
// readOnly, constraints, enum values; extensible enums' known values from
// the package's type declarations).
//
//	node extract.cjs OUT.json PKGDIR...   (PKGDIR: an unpacked package/)
//
// The packages are evaluated with their runtime dependencies stubbed (only
// their data is read, nothing is sent).
"use strict";
const fs = require("fs");
const path = require("path");
const Module = require("module");

// Runtime dependencies are not installed: tslib gets the helpers the
// modules call while loading, everything else a do-nothing proxy.
const tslib = {
  __importStar: (m) => m,
  __importDefault: (m) => (m && m.__esModule ? m : { default: m }),
  __exportStar: (m, e) => {
    for (const k of Object.keys(m)) if (!(k in e)) e[k] = m[k];
  },
};
function stub() {
  const f = function () {};
  return new Proxy(f, {
    get: (t, k) => (k === "prototype" ? {} : k === Symbol.toPrimitive ? () => "" : stub()),
    apply: () => stub(),
    construct: () => stub(),
  });
}
const origLoad = Module._load;
Module._load = function (request, parent, isMain) {
  if (request === "tslib") return tslib;
  if (!request.startsWith(".") && !path.isAbsolute(request)) return stub();
  return origLoad.call(this, request, parent, isMain);
};

// load compiles a module with its operation specs (module-local
// constants) added to its exports.
function load(file, extra) {
  let src = fs.readFileSync(file, "utf8");
  const names = [...src.matchAll(/^const (\w+OperationSpec(?:\$\d+)?) = \{/gm)].map((m) => m[1]);
  src += "\nmodule.exports.__specs = [" + names.join(",") + "];\n" + (extra || "");
  const m = new Module(file, null);
  m.filename = file;
  m.paths = Module._nodeModulePaths(path.dirname(file));
  m._compile(src, file);
  return m.exports;
}

// knownEnums parses a declaration file: the known values of each
// extensible enum (KnownX) and each interface property's declared type.
function parseDecls(src) {
  const known = {};
  for (const m of src.matchAll(/export declare enum Known(\w+) \{([\s\S]*?)\n\}/g)) {
    known[m[1]] = [...m[2].matchAll(/^\s+\w+ = "((?:[^"\\]|\\.)*)",?$/gm)].map((v) => JSON.parse('"' + v[1] + '"'));
  }
  const fixed = {};
  for (const m of src.matchAll(/export type (\w+) = ((?:"[^"]*"(?: \| )?)+);/g)) {
    fixed[m[1]] = [...m[2].matchAll(/"([^"]*)"/g)].map((v) => v[1]);
  }
  const ifaces = {};
  for (const m of src.matchAll(/export interface (\w+)(?: extends ([\w, ]+))? \{([\s\S]*?)\n\}/g)) {
    const props = {};
    for (const p of m[3].matchAll(/^ {4}(?:readonly )?(\w+)\??: ([^;]+);$/gm)) props[p[1]] = p[2];
    ifaces[m[1]] = { ext: m[2] ? m[2].split(",").map((s) => s.trim()) : [], props };
  }
  return { known, fixed, ifaces };
}

function declType(decls, iface, prop) {
  const seen = new Set();
  const walk = (n) => {
    const i = decls.ifaces[n];
    if (!i || seen.has(n)) return undefined;
    seen.add(n);
    if (i.props[prop] !== undefined) return i.props[prop];
    for (const e of i.ext) {
      const t = walk(e);
      if (t !== undefined) return t;
    }
    return undefined;
  };
  return walk(iface);
}

function enumValues(decls, t) {
  if (!t) return undefined;
  t = t.replace(/\[\]$/, "").replace(/^\{ \[propertyName: string\]: (\w+) \}$/, "$1");
  return decls.known[t] || decls.fixed[t];
}

const constraintKeys = {
  MaxLength: "maxLength", MinLength: "minLength", Pattern: "pattern", InclusiveMinimum: "min",
  InclusiveMaximum: "max", ExclusiveMinimum: "xmin", ExclusiveMaximum: "xmax", MaxItems: "maxItems",
  MinItems: "minItems", UniqueItems: "unique", MultipleOf: "multipleOf",
};

function main() {
  const [out, ...dirs] = process.argv.slice(2);
  const result = { source: [], operations: [], models: {} };
  for (const dir of dirs.map((d) => path.resolve(d))) {
    const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"));
    const key = pkg.name.replace("@azure/", "") + "@" + pkg.version;
    result.source.push(pkg.name + "@" + pkg.version);
    let mappers, specs = [], decls;
    const cjs = path.join(dir, "dist/commonjs");
    if (fs.existsSync(cjs)) {
      mappers = require(path.join(cjs, "models/mappers.js"));
      const opdir = path.join(cjs, "operations");
      const files = fs.readdirSync(opdir).filter((f) => f.endsWith(".js")).map((f) => path.join(opdir, f));
      files.push(...fs.readdirSync(cjs).filter((f) => /Client\.js$/.test(f)).map((f) => path.join(cjs, f)));
      for (const f of files.sort()) specs.push(...(load(f).__specs || []));
      decls = parseDecls(fs.readFileSync(path.join(cjs, "models/index.d.ts"), "utf8"));
    } else {
      // Older packages: one bundle, dist/index.js, declarations in types/.
      const ex = load(path.join(dir, "dist/index.js"), "module.exports.__mappers = Mappers;\n");
      mappers = ex.__mappers;
      specs = ex.__specs;
      const types = fs.readdirSync(path.join(dir, "types")).find((f) => f.endsWith(".d.ts"));
      decls = parseDecls(fs.readFileSync(path.join(dir, "types", types), "utf8"));
    }
    const models = {};
    result.models[key] = models;
    const conv = (mapper, owner, prop) => {
      const t = mapper.type || {};
      const o = { type: t.name };
      if (mapper.serializedName) o.wire = mapper.serializedName;
      if (mapper.required) o.required = true;
      if (mapper.readOnly) o.readOnly = true;
      if (mapper.nullable) o.nullable = true;
      if (mapper.isConstant) o.constant = mapper.defaultValue;
      for (const [k, v] of Object.entries(mapper.constraints || {})) o[constraintKeys[k] || k] = v instanceof RegExp ? v.source : v;
      if (t.name === "Enum") o.enum = t.allowedValues;
      if (t.name === "String" && owner) {
        const vals = enumValues(decls, declType(decls, owner, prop));
        if (vals && vals.length) o.known = vals;
      }
      if (t.name === "Composite") {
        o.model = t.className;
        addModel(t.className);
      }
      if (t.name === "Sequence" || t.name === "Dictionary") {
        const inner = t.name === "Sequence" ? t.element : t.value;
        o.items = conv(inner, null, null);
        if (o.items.type === "String" && owner) {
          const vals = enumValues(decls, declType(decls, owner, prop));
          if (vals && vals.length) o.items.known = vals;
        }
      }
      return o;
    };
    const addModel = (name) => {
      if (models[name] !== undefined) return;
      const m = mappers[name] || (mappers.discriminators || {})[name];
      models[name] = null;
      if (!m) {
        models[name] = { missing: true };
        return;
      }
      const t = m.type;
      const model = { props: {} };
      models[name] = model;
      if (t.polymorphicDiscriminator) model.discriminator = t.polymorphicDiscriminator.serializedName;
      if (t.uberParent) model.uberParent = t.uberParent;
      if (m.serializedName && m.serializedName !== name) model.discriminatorValue = m.serializedName;
      if (t.additionalProperties) model.additional = conv(t.additionalProperties, null, null);
      for (const [prop, pm] of Object.entries(t.modelProperties || {})) model.props[prop] = conv(pm, name, prop);
      // Subtypes of a polymorphic model: "Parent.value" in discriminators.
      if (t.polymorphicDiscriminator && mappers.discriminators) {
        model.subtypes = {};
        for (const [k, sub] of Object.entries(mappers.discriminators)) {
          const [parent, value] = [k.slice(0, k.indexOf(".")), k.slice(k.indexOf(".") + 1)];
          if (parent === (t.uberParent || name) && sub.type.className !== name) {
            model.subtypes[value] = sub.type.className;
            addModel(sub.type.className);
          }
        }
      }
    };
    const param = (p) => {
      const o = conv(p.mapper, null, null);
      o.name = p.mapper.serializedName || (typeof p.parameterPath === "string" ? p.parameterPath : "");
      return o;
    };
    const seen = new Set();
    for (const s of specs) {
      const id = s.httpMethod + " " + s.path;
      const q = (s.queryParameters || []).map(param);
      const av = q.find((p) => p.name === "api-version");
      const k = id + " " + (av ? av.constant : "");
      if (seen.has(k)) continue;
      seen.add(k);
      const op = { package: key, method: s.httpMethod, path: s.path, apiVersion: av ? av.constant : "" };
      op.query = q.filter((p) => p.name !== "api-version");
      op.uri = (s.urlParameters || []).filter((p) => p.mapper.serializedName !== "$host").map(param);
      if (s.requestBody && s.requestBody.mapper) {
        op.body = conv(s.requestBody.mapper, null, null);
        if (s.requestBody.mapper.required) op.body.required = true;
      }
      op.responses = {};
      for (const [status, r] of Object.entries(s.responses || {})) {
        op.responses[status] = r.bodyMapper ? conv(r.bodyMapper, null, null) : null;
      }
      result.operations.push(op);
    }
  }
  result.operations.sort((a, b) => (a.path + a.method + a.apiVersion < b.path + b.method + b.apiVersion ? -1 : 1));
  fs.writeFileSync(out, JSON.stringify(result));
}

main();
