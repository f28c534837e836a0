/**
 * Reading the /diag PNG back in tests: decode it (pngjs), then look at pixels per panel: is anything drawn
 * beyond the background, is there a colour (a line, a marker), and where are the columns without a line (a
 * gap). No eyes involved.
 */
import { PNG } from 'pngjs';
import { BACKGROUND, type PngLayout } from '../../../src/playbooks/diag/render-chart.js';

export interface DecodedPng {
  readonly width: number;
  readonly height: number;
  pixel(x: number, y: number): readonly [number, number, number];
}

export const decodePng = (bytes: Buffer): DecodedPng => {
  const png = PNG.sync.read(bytes);
  return {
    width: png.width,
    height: png.height,
    pixel: (x, y) => {
      const i = (png.width * y + x) << 2;
      return [png.data[i] ?? 0, png.data[i + 1] ?? 0, png.data[i + 2] ?? 0];
    },
  };
};

const rgb = (hex: string): [number, number, number] => [
  Number.parseInt(hex.slice(1, 3), 16),
  Number.parseInt(hex.slice(3, 5), 16),
  Number.parseInt(hex.slice(5, 7), 16),
];

const close = (a: readonly number[], b: readonly number[], tolerance: number): boolean =>
  Math.abs((a[0] ?? 0) - (b[0] ?? 0)) +
    Math.abs((a[1] ?? 0) - (b[1] ?? 0)) +
    Math.abs((a[2] ?? 0) - (b[2] ?? 0)) <=
  tolerance;

type Box = PngLayout['panels'][number];

/** Share of a panel's pixels that are not background. */
export const inkShare = (png: DecodedPng, box: Box): number => {
  const bg = rgb(BACKGROUND);
  let ink = 0;
  for (let y = box.y; y < box.y + box.h; y++)
    for (let x = box.x; x < box.x + box.w; x++) if (!close(png.pixel(x, y), bg, 12)) ink++;
  return ink / (box.w * box.h);
};

/** Columns (x, relative to the panel) holding a pixel of `colour` (within tolerance). */
export const columnsWith = (png: DecodedPng, box: Box, colour: string, tolerance = 40): number[] => {
  const c = rgb(colour);
  const cols: number[] = [];
  for (let x = box.x; x < box.x + box.w; x++) {
    for (let y = box.y; y < box.y + box.h; y++) {
      if (close(png.pixel(x, y), c, tolerance)) {
        cols.push(x - box.x);
        break;
      }
    }
  }
  return cols;
};

/** The widest run of columns without `colour` between its first and last column (a gap in a line). */
export const widestGap = (columns: readonly number[]): number => {
  let widest = 0;
  for (let i = 1; i < columns.length; i++)
    widest = Math.max(widest, (columns[i] ?? 0) - (columns[i - 1] ?? 0) - 1);
  return widest;
};
