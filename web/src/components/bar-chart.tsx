/**
 * A stacked bar chart in plain SVG (no chart library): one bar per label,
 * one colour per series, a "nice" y axis, and the numbers as a table for
 * screen readers and for anyone who wants exact values.
 */
import type { RefObject } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { niceScale } from '../lib/usage';

export interface Series {
  key: string;
  label: string;
  /** A CSS class that sets `fill` (see styles.css). */
  className: string;
}

export interface BarChartProps {
  title: string;
  labels: string[];
  series: Series[];
  /** values[i][j]: series j of bar i. */
  values: number[][];
  format: (n: number) => string;
  /** Text over each bar (e.g. its cost), optional. */
  annotations?: Array<string | undefined>;
  height?: number;
}

/** The element's width in CSS pixels, so the chart draws at 1:1 (text stays legible on a phone). */
function useWidth(fallback: number): [RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const update = () => setWidth(Math.max(240, Math.round(el.clientWidth)));
    update();
    const observer = new ResizeObserver(update);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

export function BarChart({ title, labels, series, values, format, annotations, height = 240 }: BarChartProps) {
  const [box, width] = useWidth(720);
  const pad = { top: 22, right: 8, bottom: 30, left: 48 };
  const innerW = width - pad.left - pad.right;
  const innerH = height - pad.top - pad.bottom;
  const totals = values.map((v) => v.reduce((a, b) => a + b, 0));
  const { top, step } = niceScale(Math.max(0, ...totals));
  const y = (n: number) => pad.top + innerH - (n / top) * innerH;
  const slot = innerW / Math.max(1, labels.length);
  const barW = Math.max(4, Math.min(48, slot * 0.64));
  const ticks: number[] = [];
  for (let t = 0; t <= top + step / 2; t += step) ticks.push(t);
  // Room for a label roughly every 44 px.
  const every = Math.max(1, Math.ceil(labels.length / Math.max(1, Math.floor(innerW / 44))));

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <ul class="legend" aria-hidden="true">
        {series.map((s) => (
          <li key={s.key}>
            <svg width="12" height="12" viewBox="0 0 12 12">
              <rect width="12" height="12" rx="2" class={s.className} />
            </svg>
            {s.label}
          </li>
        ))}
      </ul>
      <div ref={box} class="chart-box">
      <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="img" aria-label={`${title}: chart; the table below has the values`} preserveAspectRatio="xMidYMid meet">
        {ticks.map((t) => (
          <g key={t}>
            <line x1={pad.left} x2={width - pad.right} y1={y(t)} y2={y(t)} class="grid" />
            <text x={pad.left - 6} y={y(t) + 4} text-anchor="end" class="axis">
              {format(t)}
            </text>
          </g>
        ))}
        {values.map((v, i) => {
          const x = pad.left + i * slot + (slot - barW) / 2;
          let acc = 0;
          return (
            <g key={labels[i]}>
              {v.map((n, j) => {
                const y0 = y(acc);
                acc += n;
                const h = y0 - y(acc);
                return h > 0 ? <rect key={series[j]!.key} x={x} y={y(acc)} width={barW} height={h} class={series[j]!.className} /> : null;
              })}
              {annotations?.[i] && totals[i]! > 0 && (
                <text x={x + barW / 2} y={y(totals[i]!) - 5} text-anchor="middle" class="annot">
                  {annotations[i]}
                </text>
              )}
              {i % every === 0 && (
                <text x={x + barW / 2} y={height - pad.bottom + 16} text-anchor="middle" class="axis">
                  {labels[i]}
                </text>
              )}
            </g>
          );
        })}
        <line x1={pad.left} x2={width - pad.right} y1={y(0)} y2={y(0)} class="baseline" />
      </svg>
      </div>
      <details class="chart-table">
        <summary>Show as table</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">{title}</th>
              {series.map((s) => (
                <th scope="col" key={s.key}>
                  {s.label}
                </th>
              ))}
              {annotations && <th scope="col">cost</th>}
            </tr>
          </thead>
          <tbody>
            {labels.map((l, i) => (
              <tr key={l}>
                <th scope="row">{l}</th>
                {values[i]!.map((n, j) => (
                  <td key={j}>{format(n)}</td>
                ))}
                {annotations && <td>{annotations[i] ?? '—'}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  );
}
