// The test CA and server certificate of the TLS tests (ws_kernel, market_kernel).
import { sh } from "../helpers.ts";

/**
 * A test CA (`ca.pem`) and a certificate for feed.test it signed (`feed.pem`, `feed.key`),
 * made with openssl in `dir`; `ips` are added to its names.
 */
export function makeCertificates(dir: string, ips: string[] = []): void {
  const run = (...args: string[]) => sh("openssl", ...args);
  run(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=Test CA",
    "-keyout",
    `${dir}/ca.key`,
    "-out",
    `${dir}/ca.pem`,
  );
  run(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=feed.test",
    "-keyout",
    `${dir}/feed.key`,
    "-out",
    `${dir}/feed.csr`,
  );
  Deno.writeTextFileSync(
    `${dir}/ext`,
    `subjectAltName=${["DNS:feed.test", ...ips.map((ip) => `IP:${ip}`)].join(",")}\n` +
      "basicConstraints=CA:FALSE\n",
  );
  run(
    "x509",
    "-req",
    "-in",
    `${dir}/feed.csr`,
    "-CA",
    `${dir}/ca.pem`,
    "-CAkey",
    `${dir}/ca.key`,
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    `${dir}/ext`,
    "-out",
    `${dir}/feed.pem`,
  );
}
