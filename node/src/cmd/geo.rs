//! GEO commands: positions kept as 52-bit geohash scores in sorted sets ([`geohash`]).
//! GEOADD (a ZADD underneath, and propagated as one), GEOPOS, GEODIST, GEOHASH, and the
//! searches: GEOSEARCH, GEOSEARCHSTORE, GEORADIUS, GEORADIUSBYMEMBER and their `_RO` forms,
//! with Redis 7.0's argument rules, error texts and order of results.

use super::coll::zset_get;
use super::zranges::store_zset;
use super::zsets::zadd_scored;
use super::Ctx;
use crate::db::geohash::{self, Shape};
use crate::db::ZSetVal;
use bytes::Bytes;
use picket::args::{eq_ic, ArgError, Args, ERR_NOT_FLOAT, ERR_NOT_INT, ERR_SYNTAX};
use picket::numfmt::{fmt_fixed, parse_double, parse_i64};
use picket::resp::Reply;

const ERR_UNIT: &str = "ERR unsupported unit provided. please use M, KM, FT, MI";
const ERR_MEMBER: &str = "ERR could not decode requested zset member";

/// Metres per unit, for a unit argument.
fn unit(a: &[u8]) -> Result<f64, &'static str> {
    [("m", 1.0), ("km", 1000.0), ("ft", 0.3048), ("mi", 1609.34)]
        .iter()
        .find(|(name, _)| eq_ic(a, name))
        .map(|(_, f)| *f)
        .ok_or(ERR_UNIT)
}

/// A longitude, latitude pair, checked against the GEO limits.
fn lon_lat(lon: &[u8], lat: &[u8]) -> Result<(f64, f64), ArgError> {
    let lon = parse_double(lon).ok_or(ERR_NOT_FLOAT)?;
    let lat = parse_double(lat).ok_or(ERR_NOT_FLOAT)?;
    if !geohash::valid(lon, lat) {
        return Err(format!(
            "ERR invalid longitude,latitude pair {},{}",
            fmt_fixed(lon, 6),
            fmt_fixed(lat, 6)
        )
        .into());
    }
    Ok((lon, lat))
}

/// A size argument: a non-negative number (`what` names it in the error).
fn size(a: &[u8], what: &'static str) -> Result<f64, &'static str> {
    parse_double(a).ok_or(what)
}

/// A distance as GEODIST and WITHDIST print it.
fn distance_text(d: f64) -> String {
    fmt_fixed(d, 4)
}

/// GEOADD key [NX|XX] [CH] longitude latitude member [longitude latitude member ...]
pub fn geoadd(ctx: &mut Ctx, a: &[Bytes]) {
    let mut first = 2;
    let (mut nx, mut xx, mut ch) = (false, false, false);
    while first < a.len() {
        match () {
            _ if eq_ic(&a[first], "nx") => nx = true,
            _ if eq_ic(&a[first], "xx") => xx = true,
            _ if eq_ic(&a[first], "ch") => ch = true,
            _ => break,
        }
        first += 1;
    }
    if !(a.len() - first).is_multiple_of(3) || (nx && xx) {
        return ctx.out.error(ERR_SYNTAX);
    }
    // Replayed and replicated as the ZADD it is: `zadd key [flags] score member ...`.
    let mut zadd: Vec<Bytes> = Vec::with_capacity(first + (a.len() - first) / 3 * 2);
    zadd.push(Bytes::from_static(b"zadd"));
    zadd.extend_from_slice(&a[1..first]);
    let mut scores = Vec::with_capacity((a.len() - first) / 3);
    for t in a[first..].chunks(3) {
        let Some((lon, lat)) = ctx.parsed(lon_lat(&t[0], &t[1])) else {
            return;
        };
        let bits = geohash::encode_score(lon, lat).unwrap_or(0);
        scores.push(bits as f64);
        zadd.push(Bytes::from(bits.to_string()));
        zadd.push(t[2].clone());
    }
    let pairs: Vec<(f64, &Bytes)> = scores
        .iter()
        .copied()
        .zip(a[first + 2..].iter().step_by(3))
        .collect();
    zadd_scored(ctx, &zadd, &pairs, nx, xx, ch);
}

/// The position of `member`, if the set has it.
fn position(z: Option<&ZSetVal>, member: &[u8]) -> Option<(f64, f64)> {
    z?.score(member).map(geohash::decode_score)
}

/// GEOPOS and GEOHASH: one reply per member of the set at `a[1]` (missing key: none has
/// one), written by `each` from the member's score.
fn per_member(ctx: &mut Ctx, a: &[Bytes], each: fn(&mut Reply, Option<f64>)) {
    let db = ctx.db();
    let z = match zset_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(z) => z,
    };
    ctx.out.array(a.len() - 2);
    for m in &a[2..] {
        each(ctx.out, z.and_then(|z| z.score(m)));
    }
}

/// GEOPOS key [member ...]
pub fn geopos(ctx: &mut Ctx, a: &[Bytes]) {
    per_member(ctx, a, |out, score| {
        match score.map(geohash::decode_score) {
            None => out.null_array(),
            Some((lon, lat)) => {
                out.array(2);
                out.human_double(lon);
                out.human_double(lat);
            }
        }
    })
}

/// GEOHASH key [member ...]
pub fn geohash(ctx: &mut Ctx, a: &[Bytes]) {
    per_member(ctx, a, |out, score| match score {
        None => out.null(),
        Some(s) => out.bulk(&geohash::text(s)),
    })
}

/// GEODIST key member1 member2 [M|KM|FT|MI]
pub fn geodist(ctx: &mut Ctx, a: &[Bytes]) {
    let per_unit = match a.len() {
        4 => 1.0,
        5 => match unit(&a[4]) {
            Ok(f) => f,
            Err(e) => return ctx.out.error(e),
        },
        _ => return ctx.out.error(ERR_SYNTAX),
    };
    let db = ctx.db();
    let z = match zset_get(&mut ctx.st.ks, db, &a[1], ctx.now) {
        Err(e) => return ctx.out.error(e),
        Ok(z) => z,
    };
    match (position(z, &a[2]), position(z, &a[3])) {
        (Some(p), Some(q)) => {
            let d = geohash::distance(p.0, p.1, q.0, q.1) / per_unit;
            ctx.out.bulk(distance_text(d).as_bytes())
        }
        _ => ctx.out.null(),
    }
}

/// Which search command runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// GEORADIUS / GEORADIUS_RO (`ro`: no STORE).
    Radius {
        ro: bool,
    },
    /// GEORADIUSBYMEMBER / GEORADIUSBYMEMBER_RO.
    ByMember {
        ro: bool,
    },
    Search,
    SearchStore,
}

impl Kind {
    fn is_search(self) -> bool {
        matches!(self, Kind::Search | Kind::SearchStore)
    }

    fn may_store(self) -> bool {
        matches!(
            self,
            Kind::Radius { ro: false } | Kind::ByMember { ro: false }
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Order {
    None,
    Asc,
    Desc,
}

/// A parsed search. `center` and `shape` are None only when the source key is missing
/// (nothing is searched then).
struct Query {
    center: Option<(f64, f64)>,
    shape: Option<Shape>,
    per_unit: f64,
    withdist: bool,
    withhash: bool,
    withcoord: bool,
    any: bool,
    count: usize,
    order: Order,
    store: Option<Bytes>,
    storedist: bool,
}

/// A distance and its unit (BYRADIUS, GEORADIUS): (metres, metres per unit).
fn radius(r: &[u8], u: &[u8]) -> Result<(Shape, f64), ArgError> {
    let r = size(r, "ERR need numeric radius")?;
    if r < 0.0 {
        return Err("ERR radius cannot be negative".into());
    }
    let per_unit = unit(u)?;
    Ok((Shape::Radius(r * per_unit), per_unit))
}

/// BYBOX width height unit.
fn bybox(w: &[u8], h: &[u8], u: &[u8]) -> Result<(Shape, f64), ArgError> {
    let width = size(w, "ERR need numeric width")?;
    let height = size(h, "ERR need numeric height")?;
    if width < 0.0 || height < 0.0 {
        return Err("ERR height or width cannot be negative".into());
    }
    let per_unit = unit(u)?;
    Ok((
        Shape::Box {
            width: width * per_unit,
            height: height * per_unit,
        },
        per_unit,
    ))
}

impl Query {
    fn new() -> Query {
        Query {
            center: None,
            shape: None,
            per_unit: 1.0,
            withdist: false,
            withhash: false,
            withcoord: false,
            any: false,
            count: 0,
            order: Order::None,
            store: None,
            storedist: false,
        }
    }

    fn set_shape(&mut self, (shape, per_unit): (Shape, f64)) {
        self.shape = Some(shape);
        self.per_unit = per_unit;
    }

    /// Parses the arguments of `kind` as Redis does, in its order: the fixed part, then the
    /// options (a member is looked up where it is named), then the cross-option checks.
    fn parse(kind: Kind, a: &[Bytes], z: Option<&ZSetVal>) -> Result<Query, ArgError> {
        let mut q = Query::new();
        let base = match kind {
            Kind::Radius { .. } => {
                q.center = Some(lon_lat(&a[2], &a[3])?);
                q.set_shape(radius(&a[4], &a[5])?);
                6
            }
            Kind::ByMember { .. } => {
                if z.is_some() {
                    q.center = Some(position(z, &a[2]).ok_or(ERR_MEMBER)?);
                    q.set_shape(radius(&a[3], &a[4])?);
                }
                5
            }
            Kind::Search => 2,
            Kind::SearchStore => {
                q.store = Some(a[1].clone());
                3
            }
        };
        let has_from = q.options(kind, &mut Args::at(a, base), z)?;
        q.check(kind, &a[0], has_from)?;
        Ok(q)
    }

    /// Reads the options; true if a FROMMEMBER or FROMLONLAT was given.
    fn options(
        &mut self,
        kind: Kind,
        args: &mut Args,
        z: Option<&ZSetVal>,
    ) -> Result<bool, ArgError> {
        let (mut from_member, mut from_lonlat) = (false, false);
        while let Some(o) = args.try_arg() {
            let left = args.remaining();
            let search = kind.is_search();
            match () {
                _ if eq_ic(o, "withdist") => self.withdist = true,
                _ if eq_ic(o, "withhash") => self.withhash = true,
                _ if eq_ic(o, "withcoord") => self.withcoord = true,
                _ if eq_ic(o, "any") => self.any = true,
                _ if eq_ic(o, "asc") => self.order = Order::Asc,
                _ if eq_ic(o, "desc") => self.order = Order::Desc,
                _ if eq_ic(o, "count") && left >= 1 => {
                    let n = parse_i64(args.arg()?).ok_or(ERR_NOT_INT)?;
                    if n <= 0 {
                        return Err("ERR COUNT must be > 0".into());
                    }
                    self.count = n as usize;
                }
                _ if (eq_ic(o, "store") || eq_ic(o, "storedist"))
                    && left >= 1
                    && kind.may_store() =>
                {
                    self.storedist = eq_ic(o, "storedist");
                    self.store = Some(args.arg()?.clone());
                }
                _ if eq_ic(o, "storedist") && kind == Kind::SearchStore => self.storedist = true,
                _ if eq_ic(o, "frommember") && left >= 1 && search && !from_lonlat => {
                    let m = args.arg()?;
                    from_member = true;
                    if z.is_some() {
                        self.center = Some(position(z, m).ok_or(ERR_MEMBER)?);
                    }
                }
                _ if eq_ic(o, "fromlonlat") && left >= 2 && search && !from_member => {
                    let [lon, lat] = [args.arg()?, args.arg()?];
                    self.center = Some(lon_lat(lon, lat)?);
                    from_lonlat = true;
                }
                _ if eq_ic(o, "byradius") && left >= 2 && search && !self.is_box() => {
                    let [r, u] = [args.arg()?, args.arg()?];
                    self.set_shape(radius(r, u)?);
                }
                _ if eq_ic(o, "bybox") && left >= 3 && search && !self.is_radius() => {
                    let [w, h, u] = [args.arg()?, args.arg()?, args.arg()?];
                    self.set_shape(bybox(w, h, u)?);
                }
                _ => return Err(ERR_SYNTAX.into()),
            }
        }
        Ok(from_member || from_lonlat)
    }

    fn is_box(&self) -> bool {
        matches!(self.shape, Some(Shape::Box { .. }))
    }

    fn is_radius(&self) -> bool {
        matches!(self.shape, Some(Shape::Radius(_)))
    }

    /// The checks across options, in Redis's order.
    fn check(&self, kind: Kind, name: &[u8], has_from: bool) -> Result<(), ArgError> {
        if self.store.is_some() && (self.withdist || self.withhash || self.withcoord) {
            let what = if kind == Kind::SearchStore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            };
            return Err(format!(
                "ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options"
            )
            .into());
        }
        let name = String::from_utf8_lossy(name);
        if kind.is_search() && !has_from {
            return Err(format!(
                "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
            )
            .into());
        }
        if kind.is_search() && self.shape.is_none() {
            return Err(format!(
                "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
            )
            .into());
        }
        if self.any && self.count == 0 {
            return Err("ERR the ANY argument requires COUNT argument".into());
        }
        Ok(())
    }
}

/// One match of a search.
struct Hit<'a> {
    member: &'a [u8],
    score: f64,
    dist: f64,
    pos: (f64, f64),
}

/// The members of `z` inside `shape` around `center`, in the order Redis finds them (cell by
/// cell, by score within a cell), stopping at `limit` (0: no limit).
fn search<'a>(z: &'a ZSetVal, shape: &Shape, center: (f64, f64), limit: usize) -> Vec<Hit<'a>> {
    let cells = geohash::search_cells(shape, center);
    let view = z.view();
    let mut hits = Vec::new();
    let mut last = 0;
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_none() || (last != 0 && *cell == cells[last]) {
            continue;
        }
        if limit != 0 && hits.len() >= limit {
            break;
        }
        let (lo, hi) = cell.score_range();
        let start = view.partition_point(|s, _| s < lo);
        for (score, m) in view.iter_from(start) {
            if score >= hi {
                break;
            }
            let pos = geohash::decode_score(score);
            if let Some(dist) = shape.contains(center, pos) {
                hits.push(Hit {
                    member: m,
                    score,
                    dist,
                    pos,
                });
                if limit != 0 && hits.len() >= limit {
                    break;
                }
            }
        }
        last = i;
    }
    hits
}

fn run(ctx: &mut Ctx, a: &[Bytes], kind: Kind) {
    let db = ctx.db();
    let z = match zset_get(
        &mut ctx.st.ks,
        db,
        &a[if kind == Kind::SearchStore { 2 } else { 1 }],
        ctx.now,
    ) {
        Err(e) => return ctx.out.error(e),
        Ok(z) => z,
    };
    let q = match Query::parse(kind, a, z) {
        Ok(q) => q,
        Err(e) => return ctx.out.error(&e),
    };
    let mut hits = match (z, q.center, q.shape) {
        (Some(z), Some(center), Some(shape)) => {
            search(z, &shape, center, if q.any { q.count } else { 0 })
        }
        _ => Vec::new(),
    };
    let order = match q.order {
        Order::None if q.count != 0 && !q.any => Order::Asc,
        o => o,
    };
    match order {
        Order::Asc => hits.sort_by(|x, y| x.dist.total_cmp(&y.dist)),
        Order::Desc => hits.sort_by(|x, y| y.dist.total_cmp(&x.dist)),
        Order::None => {}
    }
    if q.count != 0 {
        hits.truncate(q.count);
    }
    match &q.store {
        Some(dst) => {
            let items: Vec<(f64, Vec<u8>)> = hits
                .iter()
                .map(|h| {
                    let score = if q.storedist {
                        h.dist / q.per_unit
                    } else {
                        h.score
                    };
                    (score, h.member.to_vec())
                })
                .collect();
            store(ctx, a, dst, &items, kind)
        }
        None => reply(ctx.out, &hits, &q),
    }
}

fn reply(out: &mut Reply, hits: &[Hit], q: &Query) {
    let fields = usize::from(q.withdist) + usize::from(q.withhash) + usize::from(q.withcoord);
    out.array(hits.len());
    for h in hits {
        if fields == 0 {
            out.bulk(h.member);
            continue;
        }
        out.array(fields + 1);
        out.bulk(h.member);
        if q.withdist {
            out.bulk(distance_text(h.dist / q.per_unit).as_bytes());
        }
        if q.withhash {
            out.int(h.score as i64);
        }
        if q.withcoord {
            out.array(2);
            out.human_double(h.pos.0);
            out.human_double(h.pos.1);
        }
    }
}

/// Stores the matches in `dst` (or deletes it when there are none), GEOSEARCHSTORE's and
/// STORE's reply and effects.
fn store(ctx: &mut Ctx, a: &[Bytes], dst: &Bytes, items: &[(f64, Vec<u8>)], kind: Kind) {
    let db = ctx.db();
    let existed = ctx.st.ks.dbs[db].main.get(&dst[..]).is_some();
    let event = if kind.is_search() {
        "geosearchstore"
    } else {
        "georadiusstore"
    };
    let n = store_zset(ctx, dst, items, event);
    if n > 0 || existed {
        ctx.dirty(n.max(1) as u64);
        ctx.propagate_as_is(a);
    }
    ctx.out.int(n as i64);
}

/// GEORADIUS key longitude latitude radius M|KM|FT|MI [WITHCOORD] [WITHDIST] [WITHHASH]
/// [COUNT count [ANY]] [ASC|DESC] [STORE key|STOREDIST key]
pub fn georadius(ctx: &mut Ctx, a: &[Bytes]) {
    run(ctx, a, Kind::Radius { ro: false })
}

pub fn georadius_ro(ctx: &mut Ctx, a: &[Bytes]) {
    run(ctx, a, Kind::Radius { ro: true })
}

/// GEORADIUSBYMEMBER key member radius unit [options as GEORADIUS]
pub fn georadiusbymember(ctx: &mut Ctx, a: &[Bytes]) {
    run(ctx, a, Kind::ByMember { ro: false })
}

pub fn georadiusbymember_ro(ctx: &mut Ctx, a: &[Bytes]) {
    run(ctx, a, Kind::ByMember { ro: true })
}

/// GEOSEARCH key FROMMEMBER member|FROMLONLAT lon lat BYRADIUS r unit|BYBOX w h unit
/// [ASC|DESC] [COUNT count [ANY]] [WITHCOORD] [WITHDIST] [WITHHASH]
pub fn geosearch(ctx: &mut Ctx, a: &[Bytes]) {
    run(ctx, a, Kind::Search)
}

/// GEOSEARCHSTORE dst src (as GEOSEARCH, without WITH*) [STOREDIST]
pub fn geosearchstore(ctx: &mut Ctx, a: &[Bytes]) {
    run(ctx, a, Kind::SearchStore)
}
