// How the others' tiles and my own picture share the stage: pure functions of the count, the
// stage's size and the pictures' shape, so that they can be tested on their own
// (tests/browser/test_room_layout.py). No imports and no DOM: room/tiles.js measures the stage
// and applies the answer.

/** The pictures' shape when none has arrived yet: what room/media.js asks cameras for. */
export const DEFAULT_ASPECT = 4 / 3;

/**
 * The grid for `count` tiles in a `width` x `height` box with `gap` between cells: the number
 * of columns (and so of rows) that makes each picture, of width/height `aspect`, largest.
 * Each tile is that picture's size, so a picture of this shape fills its tile.
 *
 * Returns {cols, rows, tileWidth, tileHeight} in whole pixels; tiles of 0 x 0 when the box
 * has no room (the call is hidden).
 */
export function chooseGrid(count, width, height, { aspect = DEFAULT_ASPECT, gap = 0 } = {}) {
  const none = { cols: 1, rows: 1, tileWidth: 0, tileHeight: 0 };
  if (!(count >= 1 && width > 0 && height > 0 && aspect > 0)) return none;
  let best = null;
  for (let cols = 1; cols <= count; cols += 1) {
    const rows = Math.ceil(count / cols);
    const cellWidth = (width - gap * (cols - 1)) / cols;
    const cellHeight = (height - gap * (rows - 1)) / rows;
    if (cellWidth <= 0 || cellHeight <= 0) continue;
    // The largest picture of this shape that fits the cell.
    const tileWidth = Math.min(cellWidth, cellHeight * aspect);
    // Ties (within a pixel) go to fewer columns: the first found.
    if (!best || tileWidth > best.tileWidth + 1) best = { cols, rows, tileWidth };
  }
  if (!best) return none;
  return {
    cols: best.cols,
    rows: best.rows,
    tileWidth: Math.floor(best.tileWidth),
    tileHeight: Math.floor(best.tileWidth / aspect),
  };
}

/**
 * Where the last row starts, in half-columns (CSS grid lines from 1), so that a row with
 * fewer tiles than columns sits in the middle; null when the last row is full.
 */
export function lastRowStart(count, cols) {
  const inLast = count - cols * (Math.ceil(count / cols) - 1);
  return inLast === cols ? null : cols - inLast + 1;
}

/**
 * Each tile's box ({left, top, right, bottom}) as room.css places the grid: in the middle of
 * the `width` x `height` box, a shorter last row in the middle of its row.
 */
export function tileBoxes(count, width, height, { cols, rows, tileWidth, tileHeight }, gap = 0) {
  const left = (width - (cols * tileWidth + (cols - 1) * gap)) / 2;
  const top = (height - (rows * tileHeight + (rows - 1) * gap)) / 2;
  const inLast = count - cols * (rows - 1);
  const boxes = [];
  for (let i = 0; i < count; i += 1) {
    const row = Math.floor(i / cols);
    const shift = row === rows - 1 ? ((cols - inLast) * (tileWidth + gap)) / 2 : 0;
    const x = left + shift + (i % cols) * (tileWidth + gap);
    const y = top + row * (tileHeight + gap);
    boxes.push({ left: x, top: y, right: x + tileWidth, bottom: y + tileHeight });
  }
  return boxes;
}

const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
const holds = (box, x, y) => box.left <= x && x <= box.right && box.top <= y && y <= box.bottom;

/**
 * The others' tiles with my own picture (`self`: {width, height}) in the stage's top right
 * corner, `margin` in from its edges. My picture may lie over the tiles as long as it keeps
 * clear of the middle of each and of its caption (the bottom `caption` pixels, with the
 * name); otherwise the tiles make room for it, beside it or below it, whichever leaves them
 * larger.
 *
 * Returns chooseGrid's answer and {right, top}: the strip along the right or the top edge
 * that the tiles leave to my picture (0: none, it lies over them).
 */
export function planStage(count, width, height, { aspect, gap = 0, self, margin = 0, caption = 0 }) {
  const over = chooseGrid(count, width, height, { aspect, gap });
  if (!over.tileWidth) return { ...over, right: 0, top: 0 };
  const mine = { left: width - margin - self.width, right: width - margin, top: margin, bottom: margin + self.height };
  const inTheWay = tileBoxes(count, width, height, over, gap).some(
    (tile) =>
      holds(mine, (tile.left + tile.right) / 2, (tile.top + tile.bottom) / 2) ||
      overlaps(mine, { ...tile, top: tile.bottom - caption }),
  );
  if (!inTheWay) return { ...over, right: 0, top: 0 };
  const right = margin + self.width + gap;
  const top = margin + self.height + gap;
  const beside = chooseGrid(count, width - right, height, { aspect, gap });
  const below = chooseGrid(count, width, height - top, { aspect, gap });
  return beside.tileWidth >= below.tileWidth ? { ...beside, right, top: 0 } : { ...below, right: 0, top };
}
