// Validates Gateway API and cert-manager objects against the CRD schemas that the npm packages
// @kubernetes-models/gateway-api and @kubernetes-models/cert-manager generate from the upstream
// CRDs. Reads a JSON array of objects on stdin; prints a JSON array with one entry per object:
// null when it is valid, else the reason. Usage: node validate_crds.mjs NODE_MODULES_DIR
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const PACKAGES = {
  "gateway.networking.k8s.io": "@kubernetes-models/gateway-api",
  "cert-manager.io": "@kubernetes-models/cert-manager",
  "acme.cert-manager.io": "@kubernetes-models/cert-manager",
};

async function problem(modules, object) {
  const [group, version] = String(object.apiVersion ?? "").split("/");
  const pkg = PACKAGES[group];
  if (!pkg || !version) return `no CRD schema for apiVersion ${object.apiVersion}`;
  const file = join(modules, pkg, group, version, `${object.kind}.js`);
  let model;
  try {
    model = await import(pathToFileURL(file).href);
  } catch {
    return `no CRD schema for ${object.kind} in ${object.apiVersion}`;
  }
  try {
    new model[object.kind](object).validate();
  } catch (error) {
    return String(error.message ?? error);
  }
  return null;
}

const modules = process.argv[2];
const objects = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const object of objects) results.push(await problem(modules, object));
process.stdout.write(JSON.stringify(results));
