import {
  ClarityIcons, angleIcon, checkCircleIcon, cogIcon, errorStandardIcon, exclamationTriangleIcon, homeIcon, infoStandardIcon,
  successStandardIcon, timesIcon, userIcon, folderIcon, searchIcon,
} from '@clr/angular';

// Shape collections: Clarity renders `outline` inside its own <svg viewBox="0 0 36 36">.
const svg = (body: string) => ({ outline: body });

/** Clarity's built-in shapes we use plus a few drawn here (sun/moon toggle, VM, backup, restore). */
export function registerIcons(): void {
  ClarityIcons.addIcons(angleIcon, checkCircleIcon, cogIcon, errorStandardIcon, exclamationTriangleIcon, homeIcon,
    infoStandardIcon, successStandardIcon, timesIcon, userIcon, folderIcon, searchIcon);
  ClarityIcons.addIcons(
    ['sp-sun', svg('<circle cx="18" cy="18" r="7" fill="currentColor"/><g stroke="currentColor" stroke-width="2.5" stroke-linecap="round"><path d="M18 3v4M18 29v4M3 18h4M29 18h4M7.4 7.4l2.8 2.8M25.8 25.8l2.8 2.8M7.4 28.6l2.8-2.8M25.8 10.2l2.8-2.8"/></g>')],
    ['sp-moon', svg('<path fill="currentColor" d="M22 4a14 14 0 1 0 10 23.6A12 12 0 0 1 22 4z"/>')],
    ['sp-vm', svg('<rect x="4" y="7" width="28" height="19" rx="2" fill="none" stroke="currentColor" stroke-width="2.5"/><path d="M12 31h12M18 26v5" stroke="currentColor" stroke-width="2.5"/>')],
    ['sp-backup', svg('<path fill="none" stroke="currentColor" stroke-width="2.5" d="M18 4 6 9v8c0 7.5 5 12.5 12 15 7-2.5 12-7.5 12-15V9z"/><path fill="none" stroke="currentColor" stroke-width="2.5" d="m12 18 4.5 4.5L24 14"/>')],
    ['sp-restore', svg('<path fill="none" stroke="currentColor" stroke-width="2.5" d="M7 18a11 11 0 1 0 3.2-7.8"/><path fill="currentColor" d="M5 5v9h9z"/><path fill="none" stroke="currentColor" stroke-width="2.5" d="M18 11v8l5 3"/>')],
    ['sp-plus', svg('<path stroke="currentColor" stroke-width="3" d="M18 6v24M6 18h24"/>')],
    ['sp-play', svg('<path fill="currentColor" d="M10 6v24l20-12z"/>')],
    ['sp-refresh', svg('<path fill="none" stroke="currentColor" stroke-width="2.5" d="M29 18a11 11 0 1 1-3.2-7.8"/><path fill="currentColor" d="M31 5v9h-9z"/>')],
  );
}
