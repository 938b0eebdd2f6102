import { signal } from '@preact/signals';

const stored = localStorage.getItem('conveyor-theme');
const system = window.matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';

/** The theme: the one chosen with the toggle, else the system's. */
export const theme = signal<'dark' | 'light'>(stored === 'dark' || stored === 'light' ? stored : system);

function apply(): void {
  document.documentElement.dataset.theme = theme.value;
}
apply();

export function toggleTheme(): void {
  theme.value = theme.value === 'dark' ? 'light' : 'dark';
  localStorage.setItem('conveyor-theme', theme.value);
  apply();
}
