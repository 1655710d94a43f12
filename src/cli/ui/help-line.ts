// The key help at the bottom of the dashboard; shorter on a narrow terminal.
import React from 'react';
import { Text } from 'ink';
import type { Palette } from './palette.ts';

const LONG = '1-4/Tab view  ↑↓ select  Enter drill in  Backspace back  s/S sort  / filter  Esc clear  p pause  q quit';
const SHORT = '1-4 view ↑↓ Enter drill ⌫ back s/S sort / filter p pause q quit';

export function HelpLine({ width, palette }: { width: number; palette: Palette }): React.ReactElement {
  return React.createElement(Text, null, palette.tone('dim', width > LONG.length ? LONG : SHORT.slice(0, width)));
}
