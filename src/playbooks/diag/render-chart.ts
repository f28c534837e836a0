import type * as Canvas from '@napi-rs/canvas';
import type * as ChartJs from 'chart.js';
import type { ChartData, ChartPanel, DiagEvent } from './types.js';

/**
 * The /diag picture: one PNG with a small panel per resource (CPU with steal, memory, disk I/O, network) over
 * the window, drawn by Chart.js on a Skia canvas (@napi-rs/canvas, a prebuilt binary shipped as an npm
 * package). Events (restart, OOM kill, live migration, host error) are vertical lines drawn as datasets in
 * every panel; minutes without a point are gaps (a VM that was down leaves a hole, it is not joined up).
 * The libraries are loaded on first use. The same function serves Slack (uploaded to the thread) and the CLI
 * (`--png FILE`).
 */

export const PANEL_WIDTH = 640;
export const PANEL_HEIGHT = 260;
export const TITLE_HEIGHT = 36;
const COLUMNS = 2;
export const BACKGROUND = '#ffffff';

export const LINE_COLOURS = ['#1a73e8', '#d93025', '#188038', '#f29900'];
/** Marker colours: none of them is a line colour, so a test (or an eye) can tell them apart. */
export const MARKER_COLOURS: Readonly<Partial<Record<DiagEvent['kind'], string>>> = {
  restart: '#a142f4',
  'oom-kill': '#e91e8c',
  'live-migration': '#00a3a3',
  'host-error': '#6b3e00',
  preemption: '#8d6e63',
  stop: '#8d6e63',
};

type ChartModule = typeof ChartJs;
type CanvasModule = typeof Canvas;

let libs: Promise<{ chart: ChartModule; canvas: CanvasModule }> | null = null;
/** Loads Chart.js and the canvas (once); callers may start it early to overlap it with network waits. */
export const loadChartLibraries = (): Promise<{ chart: ChartModule; canvas: CanvasModule }> => {
  libs ??= (async () => {
    const [chart, canvas] = await Promise.all([import('chart.js'), import('@napi-rs/canvas')]);
    chart.Chart.register(...chart.registerables);
    chart.Chart.defaults.font.family = 'DejaVu Sans, Liberation Sans, Arial, sans-serif';
    chart.Chart.defaults.font.size = 11;
    return { chart, canvas };
  })();
  return libs;
};

export interface PngLayout {
  readonly width: number;
  readonly height: number;
  /** Pixel box of each panel (in `chart.panels` order). */
  readonly panels: readonly {
    readonly x: number;
    readonly y: number;
    readonly w: number;
    readonly h: number;
  }[];
}

export const pngLayout = (panelCount: number): PngLayout => {
  const rows = Math.max(1, Math.ceil(panelCount / COLUMNS));
  return {
    width: PANEL_WIDTH * COLUMNS,
    height: TITLE_HEIGHT + rows * PANEL_HEIGHT,
    panels: Array.from({ length: panelCount }, (_, i) => ({
      x: (i % COLUMNS) * PANEL_WIDTH,
      y: TITLE_HEIGHT + Math.floor(i / COLUMNS) * PANEL_HEIGHT,
      w: PANEL_WIDTH,
      h: PANEL_HEIGHT,
    })),
  };
};

const minutesOf = (times: readonly string[], iso: string): number =>
  (Date.parse(iso) - Date.parse(times[0] ?? iso)) / 60_000;

const hhmmOf = (times: readonly string[], minutes: number): string => {
  const start = Date.parse(times[0] ?? '1970-01-01T00:00:00Z');
  return new Date(start + minutes * 60_000).toISOString().slice(11, 16);
};

const scaleMax = (panel: ChartPanel): number => {
  if (panel.max !== null) return panel.max;
  const values = panel.lines.flatMap((l) => l.values).filter((v): v is number => v !== null);
  const peak = values.length ? Math.max(...values) : 0;
  if (peak <= 0) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(peak));
  return Math.ceil((peak * 1.1) / magnitude) * magnitude;
};

const MARKER_LABEL: Partial<Record<DiagEvent['kind'], string>> = {
  restart: 'restart',
  'oom-kill': 'OOM kill',
  'live-migration': 'live migration',
  'host-error': 'host error',
  preemption: 'preemption',
  stop: 'stop',
};

/** Renders the chart data to PNG bytes. */
export const renderDiagPng = async (data: ChartData, title: string): Promise<Buffer> => {
  const { chart: cj, canvas: cv } = await loadChartLibraries();
  const layout = pngLayout(data.panels.length);
  const page = cv.createCanvas(layout.width, layout.height);
  const ctx = page.getContext('2d');
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, layout.width, layout.height);
  ctx.fillStyle = '#202124';
  ctx.font = 'bold 16px DejaVu Sans, sans-serif';
  ctx.fillText(title.slice(0, 140), 12, 24);
  const span = Math.max(1, data.times.length);
  // One marker legend entry per kind: several restarts are one colour, each its own line.
  for (const [i, panel] of data.panels.entries()) {
    const box = layout.panels[i];
    if (!box) continue;
    const sub = cv.createCanvas(box.w, box.h);
    const max = scaleMax(panel);
    const seenKinds = new Set<string>();
    const datasets = [
      ...panel.lines.map((line, j) => ({
        type: 'line' as const,
        label: line.label,
        data: line.values.map((y, x) => ({ x, y })),
        borderColor: LINE_COLOURS[j % LINE_COLOURS.length],
        backgroundColor: LINE_COLOURS[j % LINE_COLOURS.length],
        borderWidth: 1.5,
        pointRadius: 0,
        spanGaps: false,
        tension: 0,
      })),
      ...data.markers.map((m) => {
        const x = minutesOf(data.times, m.at);
        const kindLabel = MARKER_LABEL[m.kind] ?? m.kind;
        const first = !seenKinds.has(m.kind);
        seenKinds.add(m.kind);
        return {
          type: 'line' as const,
          label: first ? `${kindLabel} ${m.at.slice(11, 16)}` : '',
          data: [
            { x, y: 0 },
            { x, y: max },
          ],
          borderColor: MARKER_COLOURS[m.kind] ?? '#5f6368',
          backgroundColor: MARKER_COLOURS[m.kind] ?? '#5f6368',
          borderWidth: 2,
          borderDash: [6, 3],
          pointRadius: 0,
        };
      }),
    ];
    // Chart.js takes any 2D context with the canvas API; Skia's is one (the DOM type is not in scope here).
    const target = sub.getContext('2d') as unknown as ConstructorParameters<ChartModule['Chart']>[0];
    const chart = new cj.Chart(target, {
      type: 'line',
      data: { datasets },
      options: {
        responsive: false,
        animation: false,
        devicePixelRatio: 1,
        parsing: false,
        normalized: true,
        layout: { padding: 6 },
        plugins: {
          title: {
            display: true,
            text: panel.emptyReason
              ? `${panel.title}: ${panel.emptyReason}`
              : `${panel.title} (${panel.unit})`,
            align: 'start',
          },
          legend: {
            display: datasets.length > 0,
            position: 'bottom',
            labels: { boxWidth: 12, filter: (item) => item.text !== '' },
          },
          tooltip: { enabled: false },
        },
        scales: {
          x: {
            type: 'linear',
            min: 0,
            max: span,
            ticks: { maxTicksLimit: 7, callback: (v) => hhmmOf(data.times, Number(v)) },
          },
          y: { type: 'linear', min: 0, max, ticks: { maxTicksLimit: 5 } },
        },
      },
    });
    ctx.drawImage(sub, box.x, box.y);
    chart.destroy();
  }
  return page.encode('png');
};
