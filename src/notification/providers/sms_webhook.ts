import { createHmac } from "node:crypto";
import { DeliveryError, type Provider, type SmsMessage } from "./provider.js";

export const SIGNATURE_HEADER = "x-latchkey-signature";

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`: the receiver recomputes it
 * with the shared secret and rejects old timestamps, so a captured request cannot be replayed.
 */
export function signWebhook(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}

/** SMS through an HTTP endpoint: POST {messageId, to, text} as signed JSON; any 2xx is success. */
export function smsWebhookProvider(url: string, secret: string, clock: () => Date): Provider<SmsMessage> {
  return {
    name: `sms webhook ${new URL(url).origin}`,
    async send(message) {
      const body = JSON.stringify({ messageId: message.messageId, to: message.to, text: message.text });
      let res: Response;
      try {
        res = await fetch(url, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "idempotency-key": message.messageId,
            [SIGNATURE_HEADER]: signWebhook(secret, body, Math.floor(clock().getTime() / 1000)),
          },
          body,
          signal: AbortSignal.timeout(30_000),
        });
      } catch (err) {
        throw new DeliveryError(`sms webhook unreachable: ${err instanceof Error ? err.message : String(err)}`, false);
      }
      await res.body?.cancel();
      if (!res.ok) {
        // 4xx means the request itself is wrong, except "too early/many" which may pass later
        const permanent = res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429;
        throw new DeliveryError(`sms webhook answered ${res.status}`, permanent);
      }
    },
  };
}
