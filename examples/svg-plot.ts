/**
 * @file A hand-written SVG line chart (axes, ticks, labels, one polyline per series, a legend), used
 * by the examples to plot loss curves without a plotting dependency.
 */

export interface Series {
  name: string;
  /** [x, y] points, in order of x. */
  points: [number, number][];
}

export interface LineChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b'];

/** Escapes text for an XML text node or attribute value. */
const escapeXml = (s: string): string => s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);

/** About `count` round tick values (steps of 1, 2 or 5 times a power of ten) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) as number;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

const label = (v: number): string => String(Number(v.toPrecision(6)));

/** An SVG document plotting each series as a polyline over shared, padded axes. */
export function lineChartSvg(series: Series[], options: LineChartOptions): string {
  const { title, xLabel, yLabel, width = 720, height = 440 } = options;
  const all = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (all.length === 0) throw new Error(`lineChartSvg: argument \`series\` should hold at least one finite point, received ${series.length} series without any`);
  const margin = { left: 70, right: 20, top: 40, bottom: 55 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  // Both axes start at zero (or below, for negative data); the y axis ends at a tick above the data.
  let [x0, x1] = [Math.min(0, ...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(0, ...ys), Math.max(...ys)];
  if (x1 === x0) [x0, x1] = [x0 - 1, x1 + 1];
  if (y1 === y0) [y0, y1] = [y0 - 1, y1 + 1];
  let yTicks = niceTicks(y0, y1);
  if (yTicks[yTicks.length - 1] < y1 && yTicks.length > 1) {
    const step = yTicks[1] - yTicks[0];
    y1 = yTicks[yTicks.length - 1] + step;
    yTicks = [...yTicks, Number(y1.toPrecision(12))];
  }
  const xTicks = niceTicks(x0, x1);
  const sx = (x: number): number => margin.left + ((x - x0) / (x1 - x0)) * plotW;
  const sy = (y: number): number => margin.top + plotH - ((y - y0) / (y1 - y0)) * plotH;
  const f = (v: number): string => v.toFixed(1);

  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${width}" height="${height}" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(title)}</text>`);
  for (const t of yTicks) {
    const y = f(sy(t));
    out.push(`<line x1="${margin.left}" y1="${y}" x2="${margin.left + plotW}" y2="${y}" stroke="#e5e5e5"/>`);
    out.push(`<line x1="${margin.left - 5}" y1="${y}" x2="${margin.left}" y2="${y}" stroke="black"/>`);
    out.push(`<text x="${margin.left - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${label(t)}</text>`);
  }
  for (const t of xTicks) {
    const x = f(sx(t));
    out.push(`<line x1="${x}" y1="${margin.top + plotH}" x2="${x}" y2="${margin.top + plotH + 5}" stroke="black"/>`);
    out.push(`<text x="${x}" y="${margin.top + plotH + 18}" text-anchor="middle">${label(t)}</text>`);
  }
  out.push(`<line x1="${margin.left}" y1="${margin.top + plotH}" x2="${margin.left + plotW}" y2="${margin.top + plotH}" stroke="black"/>`);
  out.push(`<line x1="${margin.left}" y1="${margin.top}" x2="${margin.left}" y2="${margin.top + plotH}" stroke="black"/>`);
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(xLabel)}</text>`);
  out.push(`<text transform="translate(16 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escapeXml(yLabel)}</text>`);
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const points = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)).map(([x, y]) => `${f(sx(x))},${f(sy(y))}`);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points.join(' ')}"/>`);
    const ly = margin.top + 12 + i * 18;
    const lx = margin.left + plotW - 150;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${lx + 30}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
