//! Geohash, as Redis's GEO commands keep positions: a longitude/latitude pair becomes a
//! 52-bit cell code (26 bits of each, interleaved: latitude in the even bits, longitude in the
//! odd ones) stored as a sorted-set score. Latitudes are limited to the Web-Mercator range
//! ±85.05112878°. This module is pure arithmetic: encoding and decoding cells, their
//! neighbours, the haversine distances Redis uses, and the cells a radius or box search must
//! scan ([`search_cells`]), all computed in the same order of operations as Redis so that
//! every score, coordinate and distance is the same to the last bit.

pub const LON_MIN: f64 = -180.0;
pub const LON_MAX: f64 = 180.0;
pub const LAT_MIN: f64 = -85.05112878;
pub const LAT_MAX: f64 = 85.05112878;
/// Bits per coordinate of a stored position.
pub const STEP_MAX: u8 = 26;
const EARTH_RADIUS_M: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;
/// The alphabet of textual geohashes (GEOHASH).
const BASE32: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

/// A cell: its interleaved bits at a precision of `step` bits per coordinate. The zero cell
/// (`bits == 0 && step == 0`) stands for "no cell".
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Cell {
    pub bits: u64,
    pub step: u8,
}

impl Cell {
    pub fn is_none(&self) -> bool {
        self.bits == 0 && self.step == 0
    }

    /// The scores of the 52-bit positions inside this cell: `[min, max)`.
    pub fn score_range(&self) -> (f64, f64) {
        let shift = 52 - 2 * u32::from(self.step);
        let min = self.bits << shift;
        let max = self.bits.wrapping_add(1) << shift;
        (min as f64, max as f64)
    }
}

/// A coordinate interval.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub min: f64,
    pub max: f64,
}

/// The longitude and latitude intervals of a cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Area {
    pub lon: Span,
    pub lat: Span,
}

const WGS84_LON: Span = Span {
    min: LON_MIN,
    max: LON_MAX,
};
const WGS84_LAT: Span = Span {
    min: LAT_MIN,
    max: LAT_MAX,
};
const STANDARD_LAT: Span = Span {
    min: -90.0,
    max: 90.0,
};

/// Bit i of `v` moved to bit 2i.
fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// The even bits of `x`, packed (the inverse of [`spread`]).
fn squash(x: u64) -> u32 {
    let mut x = x & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// Whether a position can be stored (Redis's GEOADD limits).
pub fn valid(lon: f64, lat: f64) -> bool {
    (LON_MIN..=LON_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// The cell of a position in the given ranges at `step` bits; None outside the limits.
fn encode_in(lon_r: Span, lat_r: Span, lon: f64, lat: f64, step: u8) -> Option<Cell> {
    if !valid(lon, lat) || !(lat_r.min..=lat_r.max).contains(&lat) {
        return None;
    }
    if !(lon_r.min..=lon_r.max).contains(&lon) {
        return None;
    }
    let cells = (1u64 << step) as f64;
    let lat_off = (lat - lat_r.min) / (lat_r.max - lat_r.min) * cells;
    let lon_off = (lon - lon_r.min) / (lon_r.max - lon_r.min) * cells;
    Some(Cell {
        bits: spread(lat_off as u32) | (spread(lon_off as u32) << 1),
        step,
    })
}

/// The cell of a position at `step` bits (the GEO ranges); None outside the limits.
pub fn encode(lon: f64, lat: f64, step: u8) -> Option<Cell> {
    encode_in(WGS84_LON, WGS84_LAT, lon, lat, step)
}

/// The score GEOADD stores for a position.
pub fn encode_score(lon: f64, lat: f64) -> Option<u64> {
    encode(lon, lat, STEP_MAX).map(|c| c.bits)
}

/// The intervals a cell covers.
pub fn decode(cell: Cell) -> Area {
    let lat_bits = squash(cell.bits);
    let lon_bits = squash(cell.bits >> 1);
    let cells = (1u64 << cell.step) as f64;
    let at = |r: Span, i: u32| r.min + (f64::from(i) / cells) * (r.max - r.min);
    Area {
        lat: Span {
            min: at(WGS84_LAT, lat_bits),
            max: at(WGS84_LAT, lat_bits.wrapping_add(1)),
        },
        lon: Span {
            min: at(WGS84_LON, lon_bits),
            max: at(WGS84_LON, lon_bits.wrapping_add(1)),
        },
    }
}

/// The position a score stands for: the centre of its cell, clamped to the limits.
pub fn decode_score(score: f64) -> (f64, f64) {
    let a = decode(Cell {
        bits: score as u64,
        step: STEP_MAX,
    });
    let lon = ((a.lon.min + a.lon.max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((a.lat.min + a.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The 11-character geohash of a stored score (GEOHASH): its position re-encoded in the
/// standard latitude range ±90°, the last character always `0` (52 bits give 10½).
pub fn text(score: f64) -> [u8; 11] {
    let (lon, lat) = decode_score(score);
    let bits = encode_in(WGS84_LON, STANDARD_LAT, lon, lat, STEP_MAX).map_or(0, |c| c.bits);
    let mut out = [BASE32[0]; 11];
    for (i, ch) in out.iter_mut().take(10).enumerate() {
        *ch = BASE32[((bits >> (52 - (i + 1) * 5)) & 0x1f) as usize];
    }
    out
}

fn deg_rad(d: f64) -> f64 {
    d * D_R
}

fn rad_deg(r: f64) -> f64 {
    r / D_R
}

/// The distance in metres between two points along a meridian.
pub fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS_M * (deg_rad(lat2) - deg_rad(lat1)).abs()
}

/// The haversine distance in metres between two positions.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((deg_rad(lon2) - deg_rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let lat1r = deg_rad(lat1);
    let lat2r = deg_rad(lat2);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// A search area around a centre, sizes in metres.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

impl Shape {
    /// The distance from `center` to `p` if `p` lies inside the shape around `center`.
    pub fn contains(&self, center: (f64, f64), p: (f64, f64)) -> Option<f64> {
        match *self {
            Shape::Radius(r) => {
                let d = distance(center.0, center.1, p.0, p.1);
                (d <= r).then_some(d)
            }
            Shape::Box { width, height } => {
                if lat_distance(p.1, center.1) > height / 2.0 {
                    return None;
                }
                if distance(p.0, p.1, center.0, p.1) > width / 2.0 {
                    return None;
                }
                Some(distance(center.0, center.1, p.0, p.1))
            }
        }
    }

    /// Half the extent of the shape, (east-west, north-south), in metres.
    fn half_extent(&self) -> (f64, f64) {
        match *self {
            Shape::Radius(r) => (r, r),
            Shape::Box { width, height } => (width / 2.0, height / 2.0),
        }
    }

    /// The radius of the circle around the shape.
    fn reach(&self) -> f64 {
        match *self {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        }
    }
}

/// The bounding box of a shape around `center`: (min lon, min lat, max lon, max lat).
fn bounding_box(shape: &Shape, (lon, lat): (f64, f64)) -> [f64; 4] {
    let (half_w, half_h) = shape.half_extent();
    let lat_delta = rad_deg(half_h / EARTH_RADIUS_M);
    let lon_delta_top = rad_deg(half_w / EARTH_RADIUS_M / deg_rad(lat + lat_delta).cos());
    let lon_delta_bottom = rad_deg(half_w / EARTH_RADIUS_M / deg_rad(lat - lat_delta).cos());
    let lon_delta = if lat < 0.0 {
        lon_delta_bottom
    } else {
        lon_delta_top
    };
    [
        lon - lon_delta,
        lat - lat_delta,
        lon + lon_delta,
        lat + lat_delta,
    ]
}

/// The precision at which cells are about as large as a search of `range` metres at `lat`.
fn steps_for(mut range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return STEP_MAX;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, i32::from(STEP_MAX)) as u8
}

/// Moves a cell by `d` (±1) along one coordinate, wrapping around (`odd`: longitude bits).
fn shifted(cell: Cell, odd: bool, d: i8) -> Cell {
    let (mine, theirs) = if odd {
        (0xAAAA_AAAA_AAAA_AAAAu64, 0x5555_5555_5555_5555u64)
    } else {
        (0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA)
    };
    let width = 64 - 2 * u32::from(cell.step);
    let gaps = theirs >> width;
    let mut v = cell.bits & mine;
    let keep = cell.bits & theirs;
    if d > 0 {
        v = v.wrapping_add(gaps + 1);
    } else {
        v = (v | gaps).wrapping_sub(gaps + 1);
    }
    v &= mine >> width;
    Cell {
        bits: v | keep,
        step: cell.step,
    }
}

fn moved(cell: Cell, dx: i8, dy: i8) -> Cell {
    let mut c = cell;
    if dx != 0 {
        c = shifted(c, true, dx);
    }
    if dy != 0 {
        c = shifted(c, false, dy);
    }
    c
}

/// The cells a search must scan, in Redis's order: the centre's cell, then north, south,
/// east, west, north-east, north-west, south-east, south-west; cells that cannot hold a
/// match are [`Cell::is_none`].
pub fn search_cells(shape: &Shape, center: (f64, f64)) -> [Cell; 9] {
    let (lon, lat) = center;
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(shape, center);
    let mut steps = steps_for(shape.reach(), lat);
    let around = |steps: u8| {
        let c = encode(lon, lat, steps).unwrap_or_default();
        let n = [
            (0, 1),
            (0, -1),
            (1, 0),
            (-1, 0),
            (1, 1),
            (-1, 1),
            (1, -1),
            (-1, -1),
        ];
        let mut cells = [c; 9];
        for (slot, (dx, dy)) in cells[1..].iter_mut().zip(n) {
            *slot = moved(c, dx, dy);
        }
        cells
    };
    let mut cells = around(steps);
    let too_small = decode(cells[1]).lat.max < max_lat
        || decode(cells[2]).lat.min > min_lat
        || decode(cells[3]).lon.max < max_lon
        || decode(cells[4]).lon.min > min_lon;
    if steps > 1 && too_small {
        steps -= 1;
        cells = around(steps);
    }
    if steps >= 2 {
        let area = decode(cells[0]);
        let none = Cell::default();
        let mut drop = |idx: [usize; 3]| idx.iter().for_each(|&i| cells[i] = none);
        if area.lat.min < min_lat {
            drop([2, 8, 7]);
        }
        if area.lat.max > max_lat {
            drop([1, 5, 6]);
        }
        if area.lon.min < min_lon {
            drop([4, 8, 6]);
        }
        if area.lon.max > max_lon {
            drop([3, 7, 5]);
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_and_positions_match_redis() {
        // Values read from redis-server 7.0.15 (GEOADD, ZSCORE, GEOPOS, GEOHASH).
        let s = encode_score(13.361389, 38.115556).unwrap();
        assert_eq!(s, 3479099956230698);
        assert_eq!(
            decode_score(s as f64),
            (13.361389338970184, 38.1155563954963)
        );
        assert_eq!(&text(s as f64), b"sqc8b49rny0");
        let c2 = encode_score(180.0, 85.05112878).unwrap() as f64;
        assert_eq!(decode_score(c2), (180.0, 85.05112878));
        assert_eq!(&text(c2), b"bp05b5048p0");
        assert_eq!(
            &text(encode_score(0.0, 0.0).unwrap() as f64),
            b"s0000000000"
        );
        assert!(encode_score(181.0, 10.0).is_none());
        assert!(encode_score(10.0, 86.0).is_none());
    }

    #[test]
    fn distances_match_redis() {
        let p = decode_score(3479099956230698.0);
        let c = decode_score(3479447370796909.0);
        let d = distance(p.0, p.1, c.0, c.1);
        assert_eq!(format!("{d:.4}"), "166274.1516");
        assert_eq!(distance(1.0, 2.0, 1.0, 2.0), 0.0);
    }

    #[test]
    fn spread_and_squash_are_inverse() {
        for v in [0u32, 1, 0x3ff_ffff, 0xdead_beef, u32::MAX] {
            assert_eq!(squash(spread(v)), v);
        }
    }

    #[test]
    fn neighbours_wrap_around() {
        let c = encode(179.9, 0.0, 4).unwrap();
        let east = moved(c, 1, 0);
        assert_eq!(squash(east.bits >> 1), 0);
        assert_eq!(squash(east.bits), squash(c.bits));
        let west = moved(east, -1, 0);
        assert_eq!(west, c);
        let north = moved(c, 0, 1);
        assert_eq!(squash(north.bits), squash(c.bits) + 1);
    }

    #[test]
    fn search_cells_cover_the_center() {
        let cells = search_cells(&Shape::Radius(200_000.0), (15.0, 37.0));
        let s = encode_score(15.087269, 37.502669).unwrap() as f64;
        assert!(cells.iter().any(|c| {
            let (lo, hi) = c.score_range();
            !c.is_none() && lo <= s && s < hi
        }));
    }
}
