/** Usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [top]: self and total time by function and file, as Markdown. */
import { profileMarkdown, summarizeProfile } from "./lib/profile.js";

const [file, top] = process.argv.slice(2);
if (!file) {
  process.stderr.write("usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]\n");
  process.exit(2);
}
process.stdout.write(profileMarkdown(summarizeProfile(file, file, undefined, Number(top ?? 25))));
