import { AnsiUp } from 'ansi_up';

const STYLE_CLASSES: [RegExp, string][] = [
  [/font-weight:bold/, 'ansi-bold'],
  [/opacity:/, 'ansi-faint'],
  [/font-style:italic/, 'ansi-italic'],
  [/text-decoration:underline/, 'ansi-underline'],
];

/**
 * One line as HTML (escaped by ansi_up), colours as classes so both themes tune them. The few
 * things ansi_up writes as inline styles become classes too (the CSP allows no inline style);
 * 24-bit colours are dropped for the same reason.
 */
export function ansiHtml(text: string): string {
  const up = new AnsiUp();
  up.use_classes = true;
  return up
    .ansi_to_html(text)
    .replace(/<span style="([^"]*)"(?: class="([^"]*)")?>/g, (_m, style: string, cls: string | undefined) => {
      const classes = [cls ?? '', ...STYLE_CLASSES.filter(([re]) => re.test(style)).map(([, c]) => c)];
      return `<span class="${classes.filter(Boolean).join(' ')}">`;
    });
}
