import { describe, expect, it } from "vitest";
import { addressMatcher, clientIp } from "../src/http/client_address.js";
import {
  parseLimitSpec,
  pickStatus,
  rateLimitHeaders,
  statusOf,
  windowsOf,
  type LimitStatus,
} from "../src/ratelimit/rules.js";
import { defaultConfig, loadConfig } from "../src/config.js";

describe("parseLimitSpec", () => {
  it("reads points per period, with an optional burst", () => {
    expect(parseLimitSpec("10/h")).toEqual({ points: 10, periodSeconds: 3600 });
    expect(parseLimitSpec("600/m")).toEqual({ points: 600, periodSeconds: 60 });
    expect(parseLimitSpec("5/30s")).toEqual({ points: 5, periodSeconds: 30 });
    expect(parseLimitSpec("100/2d")).toEqual({ points: 100, periodSeconds: 172_800 });
    expect(parseLimitSpec("1/m,burst=10")).toEqual({ points: 1, periodSeconds: 60, burst: 10 });
    expect(parseLimitSpec("3/m,burst=3")).toEqual({ points: 3, periodSeconds: 60 });
  });

  it("reads off as no limit", () => {
    expect(parseLimitSpec("off")).toBeUndefined();
  });

  it.each(["", "10", "10/", "10/w", "0/m", "-1/m", "1/0m", "1/m,burst=0", "ten/m", "1/m burst=10"])("refuses %j", (text) => {
    expect(() => parseLimitSpec(text)).toThrow(/is not a rate limit/);
  });
});

describe("windowsOf", () => {
  it("counts a plain limit in one window", () => {
    expect(windowsOf({ points: 10, periodSeconds: 3600 })).toEqual([{ points: 10, seconds: 3600 }]);
  });

  it("keeps a burst beyond the steady rate in a window as long as the rate takes to earn it", () => {
    expect(windowsOf({ points: 1, periodSeconds: 60, burst: 10 })).toEqual([
      { points: 1, seconds: 60 },
      { points: 9, seconds: 600 },
    ]);
  });
});

describe("statusOf", () => {
  const now = 1_000_000;
  const windows = windowsOf({ points: 1, periodSeconds: 60, burst: 10 });

  it("has every point while nothing was counted", () => {
    expect(statusOf(windows, [null, null], false, now)).toEqual({ limit: 10, remaining: 10, resetAt: now });
  });

  it("adds up the windows and resets when the last one does", () => {
    const status = statusOf(windows, [{ consumed: 1, msBeforeNext: 30_000 }, { consumed: 4, msBeforeNext: 500_000 }], false, now);
    expect(status).toEqual({ limit: 10, remaining: 5, resetAt: now + 500_000 });
  });

  it("tells a refused call when the first point comes back; counts past the limit do not go negative", () => {
    const status = statusOf(windows, [{ consumed: 3, msBeforeNext: 20_000 }, { consumed: 11, msBeforeNext: 400_000 }], true, now);
    expect(status).toEqual({ limit: 10, remaining: 0, resetAt: now + 400_000, retryAfterMs: 20_000 });
  });
});

describe("pickStatus", () => {
  const s = (remaining: number, retryAfterMs?: number): LimitStatus => ({ limit: 10, remaining, resetAt: 0, ...(retryAfterMs !== undefined && { retryAfterMs }) });

  it("reports the limit closest to refusing, or the refusing one", () => {
    expect(pickStatus([])).toBeUndefined();
    expect(pickStatus([s(5), s(2), s(7)])).toEqual(s(2));
    expect(pickStatus([s(5), s(0, 1000)])).toEqual(s(0, 1000));
    expect(pickStatus([s(0, 1000), s(0, 9000)])).toEqual(s(0, 9000));
  });
});

describe("rateLimitHeaders", () => {
  it("gives the reset in Unix seconds, and Retry-After in whole seconds only when refused", () => {
    expect(rateLimitHeaders({ limit: 10, remaining: 3, resetAt: 1_700_000_000_001 })).toEqual({
      "X-RateLimit-Limit": "10",
      "X-RateLimit-Remaining": "3",
      "X-RateLimit-Reset": "1700000001",
    });
    expect(rateLimitHeaders({ limit: 10, remaining: 0, resetAt: 1_700_000_000_000, retryAfterMs: 200 })).toMatchObject({ "Retry-After": "1" });
    expect(rateLimitHeaders({ limit: 10, remaining: 0, resetAt: 1_700_000_000_000, retryAfterMs: 59_001 })).toMatchObject({ "Retry-After": "60" });
  });
});

describe("clientIp", () => {
  const trusted = addressMatcher(["10.0.0.0/8", "127.0.0.1", "::1"]);

  it("is the peer when it is not a trusted proxy, whatever X-Forwarded-For says", () => {
    expect(clientIp("192.0.2.7", "198.51.100.1", trusted)).toBe("192.0.2.7");
    expect(clientIp("::ffff:192.0.2.7", undefined, trusted)).toBe("192.0.2.7");
  });

  it("is the last address before the trusted proxies, from the right", () => {
    expect(clientIp("127.0.0.1", "198.51.100.1", trusted)).toBe("198.51.100.1");
    expect(clientIp("10.1.2.3", "203.0.113.9, 198.51.100.1, 10.9.9.9", trusted)).toBe("198.51.100.1");
    expect(clientIp("::1", "2001:db8::5", trusted)).toBe("2001:db8::5");
  });

  it("stays with the last trusted address when the header is empty or not an address", () => {
    expect(clientIp("127.0.0.1", "", trusted)).toBe("127.0.0.1");
    expect(clientIp("127.0.0.1", "unknown", trusted)).toBe("127.0.0.1");
    expect(clientIp("10.0.0.1", "10.0.0.2", trusted)).toBe("10.0.0.2");
  });
});

describe("addressMatcher", () => {
  it("matches addresses and ranges of both families", () => {
    const match = addressMatcher(["192.0.2.0/24", "2001:db8::/32", "203.0.113.5"]);
    expect(["192.0.2.200", "2001:db8:1::1", "203.0.113.5"].map(match)).toEqual([true, true, true]);
    expect(["192.0.3.1", "2001:db9::1", "203.0.113.6", "nonsense"].map(match)).toEqual([false, false, false, false]);
  });

  it.each(["localhost", "10.0.0.0/33", "10.0.0.0/x", "1.2.3.4/8/1"])("refuses %j", (entry) => {
    expect(() => addressMatcher([entry])).toThrow(/not an IP address or a CIDR range/);
  });
});

describe("configuration", () => {
  it("defaults to Auth0's figures for change_password, 10/h per user, 600/m per token and limits per address", () => {
    expect(defaultConfig().rateLimits).toEqual({
      enabled: true,
      changePassword: { points: 1, periodSeconds: 60, burst: 10 },
      changePasswordPerIp: { points: 50, periodSeconds: 3600 },
      anonymousPerIp: { points: 10, periodSeconds: 60, burst: 30 },
      resetPerUser: { points: 10, periodSeconds: 3600 },
      resetPerToken: { points: 600, periodSeconds: 60 },
    });
  });

  it("turns single limits or all of them off", () => {
    const config = loadConfig({ LATCHKEY_RATE_LIMIT_RESET_TOKEN: "off", LATCHKEY_RATE_LIMIT_RESET_USER: "3/m" }, { "trusted-proxies": "10.0.0.0/8, ::1" });
    expect(config.rateLimits.resetPerToken).toBeUndefined();
    expect(config.rateLimits.resetPerUser).toEqual({ points: 3, periodSeconds: 60 });
    expect(config.trustedProxies).toEqual(["10.0.0.0/8", "::1"]);
    const perAddress = loadConfig({ LATCHKEY_RATE_LIMIT_ANONYMOUS_IP: "off" }, { "rate-limit-change-password-ip": "5/m,burst=20" }).rateLimits;
    expect(perAddress.anonymousPerIp).toBeUndefined();
    expect(perAddress.changePasswordPerIp).toEqual({ points: 5, periodSeconds: 60, burst: 20 });
    expect(loadConfig({ LATCHKEY_RATE_LIMITS: "off" }, {}).rateLimits.enabled).toBe(false);
  });

  it("names the setting that is wrong", () => {
    expect(() => loadConfig({ LATCHKEY_RATE_LIMIT_CHANGE_PASSWORD: "lots" }, {})).toThrow(/rate-limit-change-password: "lots" is not a rate limit/);
    expect(() => loadConfig({}, { "rate-limit-anonymous-ip": "10" })).toThrow(/rate-limit-anonymous-ip: "10" is not a rate limit/);
    expect(() => loadConfig({ LATCHKEY_RATE_LIMIT_CHANGE_PASSWORD_IP: "0/h" }, {})).toThrow(/rate-limit-change-password-ip: "0\/h" is not a rate limit/);
    expect(() => loadConfig({ LATCHKEY_RATE_LIMITS: "no" }, {})).toThrow(/rate-limits must be one of on, off/);
    expect(() => loadConfig({}, { "trusted-proxies": "proxy.local" })).toThrow(/trusted-proxies: "proxy.local"/);
  });
});
