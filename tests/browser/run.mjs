// Runs one declarative browser scenario in Debian's headless Chromium.
//
//   node tests/browser/run.mjs SCENARIO.json
//
// SCENARIO.json: {"base_url": "http://127.0.0.1:PORT", "steps": [STEP, ...]}, where each STEP
// is one of:
//   {"goto": "/path", "expect_status": 200}    expect_status is optional (default: any < 400)
//   {"fill": {"label": "Gebruikersnaam", "value": "x"}}   field found by its accessible label
//   {"select": {"label": "Taal", "value": "nl"}}          option by value or visible text
//   {"check": {"label": "inzage"}}                        tick a checkbox or radio button
//   {"upload": {"label": "Kopie", "path": "/tmp/id.png"}} choose a file for a file input
//   {"click": {"role": "button" | "link", "name": "Opslaan"}}   ("nth": N picks the N-th of several)
//   {"press": "Tab"}                           a key on the keyboard
//   {"expect_text": "..."}                     visible page text contains it (waits for it)
//   {"expect_no_text": "..."}                  visible page text does not contain it
//   {"expect_url": "/regex/"}                  the full URL matches the regex (waits for it)
//   {"expect_focus_name": "..."}               the focused element has this accessible name
//   {"axe": true}                              no WCAG 2.1 A/AA violation found by axe-core
//   {"screenshot": "/tmp/page.png"}            full-page PNG, to look at
//   {"expect_js": {"eval": "expr", "equals": V}}   the expression's JSON value equals V (waits for it)
//   {"headers": {"Sec-GPC": "1"}}              extra request headers from here on
//   {"init_script": "js"}                      runs in every page before its own scripts, from the next goto on
// Labels, roles and names match exactly; text comparisons ignore differences in whitespace.
// Prints "browser: N steps passed" and exits 0, or explains the failing step and exits 1.
// Env: CHROMIUM (default /usr/bin/chromium), BROWSER_TIMEOUT_MS (default 10000 per step).

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  // The machine has no internet: without these Chromium keeps calling home and waits on it.
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];
const TIMEOUT_MS = Number(process.env.BROWSER_TIMEOUT_MS ?? 10000);

// A failed expectation; the message says what was expected and what was found.
class StepFailure extends Error {}

const normalize = (text) => text.replace(/\s+/g, ' ').trim();

const pageText = async (page) => normalize(await page.evaluate(() => document.body?.innerText ?? ''));

// Polls `check` until it returns true or the step timeout passes; returns the last result.
async function eventually(check) {
  const deadline = Date.now() + TIMEOUT_MS;
  for (;;) {
    const ok = await check().catch(() => false); // a navigation in flight destroys the context
    if (ok || Date.now() > deadline) return ok;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function parseRegex(source) {
  const m = /^\/(.+)\/([dgimsuy]*)$/s.exec(source);
  if (!m) throw new StepFailure(`expect_url must be written as "/regex/", got ${JSON.stringify(source)}`);
  return new RegExp(m[1], m[2]);
}

// The accessible name of the focused element, as Playwright's aria snapshot computes it.
async function focusedName(page) {
  const hasFocus = await page.evaluate(() => document.activeElement && document.activeElement !== document.body);
  if (!hasFocus) return null;
  const snapshot = await page.locator(':focus').first().ariaSnapshot({ timeout: TIMEOUT_MS });
  const m = /^- [\w-]+ ("(?:[^"\\]|\\.)*")/.exec(snapshot);
  return m ? JSON.parse(m[1]) : '';
}

function axeReport(violations) {
  return violations
    .map((v) => {
      const nodes = v.nodes.map((n) => `      ${n.target.join(' ')}`).join('\n');
      return `  ${v.id} (${v.impact}): ${v.help}\n    ${v.helpUrl}\n${nodes}`;
    })
    .join('\n');
}

const ACTIONS = {
  async goto(page, step, baseUrl) {
    const response = await page.goto(new URL(step.goto, baseUrl).href, { timeout: TIMEOUT_MS });
    const status = response?.status();
    const expected = step.expect_status;
    if (expected === undefined ? !(status < 400) : status !== expected) {
      throw new StepFailure(`expected HTTP status ${expected ?? 'below 400'}, got ${status}`);
    }
  },
  async fill(page, { fill }) {
    await pick(page.getByLabel(fill.label, { exact: true }), fill).fill(String(fill.value));
  },
  async check(page, { check }) {
    await pick(page.getByLabel(check.label, { exact: true }), check).check();
  },
  async upload(page, { upload }) {
    await pick(page.getByLabel(upload.label, { exact: true }), upload).setInputFiles(upload.path);
  },
  async select(page, { select }) {
    await pick(page.getByLabel(select.label, { exact: true }), select).selectOption(String(select.value));
  },
  async click(page, { click }) {
    await pick(page.getByRole(click.role, { name: click.name, exact: true }), click).click();
    await page.waitForLoadState('load');
  },
  async press(page, step) {
    await page.keyboard.press(step.press);
  },
  async expect_text(page, step) {
    const wanted = normalize(step.expect_text);
    if (!(await eventually(async () => (await pageText(page)).includes(wanted)))) {
      throw new StepFailure(`expected the page to show ${JSON.stringify(wanted)}`);
    }
  },
  async expect_no_text(page, step) {
    await page.waitForLoadState('load');
    const unwanted = normalize(step.expect_no_text);
    if ((await pageText(page)).includes(unwanted)) {
      throw new StepFailure(`expected the page not to show ${JSON.stringify(unwanted)}`);
    }
  },
  async expect_url(page, step) {
    const pattern = parseRegex(step.expect_url);
    if (!(await eventually(async () => pattern.test(page.url())))) {
      throw new StepFailure(`expected the URL to match ${pattern}`);
    }
  },
  async expect_focus_name(page, step) {
    let name;
    const ok = await eventually(async () => (name = await focusedName(page)) === step.expect_focus_name);
    if (!ok) {
      const found = name === null ? 'nothing has focus' : `focus is on ${JSON.stringify(name)}`;
      throw new StepFailure(`expected focus on ${JSON.stringify(step.expect_focus_name)}, but ${found}`);
    }
  },
  async axe(page) {
    const { violations } = await new AxeBuilder({ page }).withTags(AXE_TAGS).analyze();
    if (violations.length > 0) {
      throw new StepFailure(`expected no accessibility violations, found ${violations.length}:\n${axeReport(violations)}`);
    }
  },
  async screenshot(page, step) {
    await page.screenshot({ path: step.screenshot, fullPage: true });
  },
  async expect_js(page, { expect_js }) {
    const wanted = JSON.stringify(expect_js.equals);
    let found;
    const ok = await eventually(async () => {
      // A string is evaluated over the DevTools protocol, so the page's CSP does not block it.
      found = JSON.stringify(await page.evaluate(expect_js.eval));
      return found === wanted;
    });
    if (!ok) throw new StepFailure(`expected ${expect_js.eval} to be ${wanted}, got ${found}`);
  },
  async headers(page, step) {
    await page.setExtraHTTPHeaders(step.headers);
  },
  async init_script(page, step) {
    await page.addInitScript(step.init_script);
  },
};

// A target named more than once (one "Publish" button per controller) is chosen with
// "nth" (0-based); without it the name must be unique, so an ambiguous step fails.
function pick(locator, target) {
  return Number.isInteger(target.nth) ? locator.nth(target.nth) : locator;
}

// The one action a step names; `expect_status` may only accompany `goto`.
function actionOf(step, index) {
  const keys = step && typeof step === 'object' ? Object.keys(step) : [];
  const actions = keys.filter((k) => k in ACTIONS);
  const extra = keys.filter((k) => !(k in ACTIONS) && !(k === 'expect_status' && actions[0] === 'goto'));
  if (actions.length !== 1 || extra.length > 0) {
    throw new Error(
      `step[${index}] ${JSON.stringify(step)} must have exactly one of: ${Object.keys(ACTIONS).join(', ')}` +
        (extra.length ? ` (unknown: ${extra.join(', ')})` : ''),
    );
  }
  return actions[0];
}

function readScenario(path) {
  if (!path) throw new Error('usage: node tests/browser/run.mjs SCENARIO.json');
  let scenario;
  try {
    scenario = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new Error(`cannot read scenario ${path}: ${error.message}`);
  }
  if (typeof scenario.base_url !== 'string' || !Array.isArray(scenario.steps)) {
    throw new Error(`${path}: expected {"base_url": "http://…", "steps": [...]}`);
  }
  scenario.steps.forEach(actionOf); // reject a malformed scenario before starting Chromium
  return scenario;
}

async function describeFailure(page, index, step, error) {
  const text = await pageText(page).catch(() => '(page text unavailable)');
  // Playwright's own errors carry a call log with terminal colours: keep its first lines, plain.
  const reason =
    error instanceof StepFailure
      ? error.message
      : error.message.replace(/\x1b\[[0-9;]*m/g, '').split('\n').slice(0, 4).join('\n').trimEnd();
  return [
    `browser: step[${index}] ${JSON.stringify(step)} failed`,
    `  ${reason.replace(/\n/g, '\n  ')}`,
    `  page url: ${page.url()}`,
    `  page text: ${text.length > 600 ? `${text.slice(0, 600)}…` : text}`,
  ].join('\n');
}

async function run(scenario) {
  const profile = mkdtempSync(join(tmpdir(), 'kluis-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: CHROMIUM_ARGS,
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(TIMEOUT_MS);
    for (const [index, step] of scenario.steps.entries()) {
      try {
        await ACTIONS[actionOf(step, index)](page, step, scenario.base_url);
      } catch (error) {
        console.error(await describeFailure(page, index, step, error));
        return false;
      }
    }
    console.log(`browser: ${scenario.steps.length} steps passed`);
    return true;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

try {
  process.exitCode = (await run(readScenario(process.argv[2]))) ? 0 : 1;
} catch (error) {
  console.error(`browser: ${error.message}`);
  process.exitCode = 1;
}
