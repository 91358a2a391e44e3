// Browser pages on the dev host (the vSphere Client stand-in) for Playwright tests: a fresh context in a
// chosen locale and colour scheme, the dev host logged in, and the frame of a plugin iframe.
/* eslint-disable @typescript-eslint/no-explicit-any -- page functions run in the browser; the root tsconfig has no DOM types */
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Frame, Page } from 'playwright-core';
import type { TestService } from './service.ts';

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export async function newPage(browser: Browser, opts: { locale?: string; dark?: boolean; width?: number; height?: number } = {}): Promise<{ ctx: BrowserContext; page: Page; errors: string[] }> {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, acceptDownloads: true, viewport: { width: opts.width ?? 1400, height: opts.height ?? 900 }, locale: opts.locale ?? 'en-US', colorScheme: opts.dark ? 'dark' : 'light' });
  const page = await ctx.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  return { ctx, page, errors };
}

/** Opens the dev host logged in as the lab's administrator (URL options: vm, tab, locale). */
export async function openDevHost(svc: TestService, page: Page, opts: Record<string, string> = {}): Promise<void> {
  const q = new URLSearchParams({ user: svc.lab.username, password: svc.lab.password, ...opts });
  await page.goto(`${svc.service.url}/devhost/?${q}`);
  await page.locator('#tree li[data-id]').first().waitFor();
}

/** The Playwright frame of an iframe (by CSS selector in the dev host page). */
export async function frameOf(page: Page, selector: string): Promise<Frame> {
  const handle = await page.locator(selector).elementHandle();
  const frame = await handle?.contentFrame();
  assert.ok(frame, `no frame for ${selector}`);
  return frame;
}

/** Switches the dev host's theme to dark and waits until the frame follows. */
export async function darkTheme(page: Page, frame?: Frame): Promise<void> {
  await page.locator('#theme').click();
  await frame?.waitForFunction(() => (globalThis as any).document.body.getAttribute('cds-theme') === 'dark');
}

/**
 * Form controls and buttons a screen reader would reach without an accessible name (label[for], a wrapping label,
 * aria-label, aria-labelledby; buttons also their text and title). Hidden ones are skipped.
 */
export async function unnamedControls(target: Page | Frame): Promise<string[]> {
  return target.evaluate(() => {
    const doc = (globalThis as any).document;
    const text = (e: any): string => String(e?.textContent ?? '').replace(/\s+/g, ' ').trim();
    const out: string[] = [];
    for (const e of doc.querySelectorAll('input:not([type=hidden]), select, textarea, button, [role=button], [role=checkbox], [role=radio]')) {
      if (!e.checkVisibility({ visibilityProperty: true }) || e.closest('[aria-hidden="true"], [inert]')) continue;
      const names: string[] = [e.getAttribute('aria-label') ?? ''];
      const lb = e.getAttribute('aria-labelledby');
      if (lb) names.push(lb.split(/\s+/).map((id: string) => text(doc.getElementById(id))).join(' '));
      for (const l of e.labels ?? []) names.push(text(l));
      if (e.closest('label')) names.push(text(e.closest('label')));
      if (!e.matches('input, select, textarea')) names.push(text(e), e.getAttribute('title') ?? '');
      if (!names.some((n) => n.trim())) out.push(`<${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}${e.type ? ' type=' + e.type : ''}>`);
    }
    return out;
  });
}
