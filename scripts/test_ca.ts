/**
 * A throwaway certificate authority for the TLS tests and benchmarks: a CA and a server
 * certificate it signed, made with openssl (P-256 keys, valid for a day).
 *
 * @module
 */

/**
 * Writes `ca.pem` (the CA to trust), `server.pem` and `server.key` into `dir`: a certificate for
 * the DNS name `name` and the addresses `ips`.
 */
export function makeCertificates(dir: string, name: string, ips: string[] = []): void {
  const ssl = (...args: string[]) => {
    const out = new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" })
      .outputSync();
    if (!out.success) {
      throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  const key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  ssl(
    ...["req", "-x509", ...key, "-days", "1", "-subj", "/CN=deno-dpdk test CA"],
    ...["-keyout", `${dir}/ca.key`, "-out", `${dir}/ca.pem`],
  );
  ssl(
    ...["req", ...key, "-subj", `/CN=${name}`],
    ...["-keyout", `${dir}/server.key`, "-out", `${dir}/server.csr`],
  );
  const names = [`DNS:${name}`, ...ips.map((ip) => `IP:${ip}`)].join(",");
  Deno.writeTextFileSync(`${dir}/ext`, `subjectAltName=${names}\nbasicConstraints=CA:FALSE\n`);
  ssl(
    ...["x509", "-req", "-in", `${dir}/server.csr`, "-CA", `${dir}/ca.pem`],
    ...["-CAkey", `${dir}/ca.key`, "-CAcreateserial", "-days", "1"],
    ...["-extfile", `${dir}/ext`, "-out", `${dir}/server.pem`],
  );
}
