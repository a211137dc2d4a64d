/** One call of each kind before measuring: load generators count HTTP statuses, not gRPC ones. */
import http2 from "node:http2";

/** A unary gRPC call over h2c; resolves with its grpc-status and the response's data bytes. */
export function grpcCall(url: string, path: string, token: string, body: Uint8Array): Promise<{ status: string; message: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(url);
    session.on("error", reject);
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      authorization: `Bearer ${token}`,
    });
    let status = "";
    let message = "";
    let bytes = 0;
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
      if (h["grpc-message"] !== undefined) message = decodeURIComponent(String(h["grpc-message"]));
    };
    req.on("response", take);
    req.on("trailers", take);
    req.on("data", (d: Buffer) => (bytes += d.length));
    req.on("error", reject);
    req.on("end", () => {
      session.close();
      resolve({ status, message, bytes });
    });
    req.end(body);
  });
}

export async function httpCall(url: string, token: string | undefined, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token && { authorization: `Bearer ${token}` }) },
    body,
  });
  return { status: res.status, text: await res.text() };
}
