/// <reference lib="dom" />
/**
 * The strength estimate of the hosted reset page, bundled into
 * dist/ui/strength.js and loaded only when the policy asks for a strength.
 * The same estimator and dictionaries as the server's check, run in the
 * browser, so the password does not leave it while being typed. The server
 * also counts the user's own name and words against it, so its verdict is
 * the one that holds.
 */
import { SCORE_WORDS, loadPasswordLists, strengthScore } from "../../command/password_rules/common_passwords.js";

const meter = document.getElementById("strength") as HTMLMeterElement | null;
const label = document.getElementById("strength-label");
const input = document.getElementById("new-password") as HTMLInputElement | null;

if (meter && label && input) {
  const min = Number(meter.dataset["minStrength"] ?? "0");
  let pending = false;
  const update = () => {
    pending = false;
    if (input.value === "") {
      meter.value = 0;
      label.textContent = `Strength: needs at least ${min} of 4`;
      return;
    }
    const score = strengthScore(input.value, []);
    meter.value = score;
    label.textContent = `Strength: ${score} of 4, ${SCORE_WORDS[score]}${score < min ? ` (needs at least ${min})` : ""}`;
    label.dataset["enough"] = String(score >= min);
  };
  void loadPasswordLists().then(() => {
    input.addEventListener("input", () => {
      // once a frame however fast the typing
      if (!pending) requestAnimationFrame(update);
      pending = true;
    });
    update();
  });
}
