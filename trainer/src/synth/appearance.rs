//! How a synthetic organism looks, and how a photo of one is painted.
//!
//! Every rank fixes some of the traits and leaves the rest to the ranks below, so relatives
//! share what their common ancestor fixed: the kingdom picks the body plan, the phylum the
//! outline, the class the body colour, the order the kind of markings, the family their
//! colour, the genus body proportions and marking density, and the species the marking
//! angle, stroke weight and shade. A photo adds what varies between individuals and
//! between shots: position, size, pose, background and sensor noise.

use rand::Rng;

/// Body outline (fixed by the phylum; the kingdom's body plan decides the choices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A disc.
    Disc,
    /// A hexagon.
    Hexagon,
    /// A five-armed star.
    Star,
    /// A lens (two arcs), elongated.
    Lens,
    /// A diamond.
    Diamond,
    /// A triangle pointing forward.
    Triangle,
}

impl Shape {
    /// Outlines of radially symmetric body plans.
    pub const RADIAL: [Shape; 3] = [Shape::Disc, Shape::Hexagon, Shape::Star];
    /// Outlines of bilateral body plans.
    pub const BILATERAL: [Shape; 3] = [Shape::Lens, Shape::Diamond, Shape::Triangle];

    fn contains(self, u: f32, v: f32) -> bool {
        match self {
            Shape::Disc => u * u + v * v <= 1.0,
            Shape::Hexagon => (u.abs() * 0.866 + v.abs() * 0.5).max(v.abs()) <= 0.92,
            Shape::Star => {
                let r = (u * u + v * v).sqrt();
                r <= 0.62 + 0.38 * (5.0 * v.atan2(u)).cos()
            }
            Shape::Lens => {
                // The intersection of two discs of radius 1.2 centred at v = ±0.6.
                u * u + (v.abs() + 0.6).powi(2) <= 1.44
            }
            Shape::Diamond => u.abs() + v.abs() <= 1.0,
            Shape::Triangle => v >= -0.75 && u.abs() <= (1.0 - v) * 0.55 && v <= 1.0,
        }
    }
}

/// Kind of markings (fixed by the order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Parallel stripes.
    Stripes,
    /// A grid of spots.
    Spots,
    /// Concentric rings around an off-centre point.
    Rings,
    /// Zig-zag bands.
    Zigzag,
}

impl Pattern {
    /// All kinds, for drawing one.
    pub const ALL: [Pattern; 4] = [Pattern::Stripes, Pattern::Spots, Pattern::Rings, Pattern::Zigzag];
}

/// The heritable appearance of one species.
#[derive(Debug, Clone, PartialEq)]
pub struct Traits {
    /// Outline.
    pub shape: Shape,
    /// Hue of the body, degrees.
    pub body_hue: f32,
    /// Kind of markings.
    pub pattern: Pattern,
    /// Hue of the markings, degrees.
    pub mark_hue: f32,
    /// Length over width of the body (1 = round).
    pub aspect: f32,
    /// Markings per body radius.
    pub frequency: f32,
    /// Angle of the markings, radians.
    pub angle: f32,
    /// Fraction of each marking period that is painted.
    pub stroke: f32,
    /// Body brightness (HSV value).
    pub shade: f32,
}

/// Paints one photo of an organism with `traits` as `size × size` RGB bytes.
pub fn paint(traits: &Traits, size: usize, rng: &mut impl Rng) -> Vec<u8> {
    let shot = Shot::draw(size, rng);
    let body = hsv(traits.body_hue, 0.75, traits.shade);
    let marks = hsv(traits.mark_hue, 0.85, if traits.shade > 0.7 { 0.35 } else { 0.95 });
    let (sin, cos) = shot.rotation.sin_cos();
    let (msin, mcos) = traits.angle.sin_cos();
    let mut rgb = Vec::with_capacity(size * size * 3);
    for y in 0..size {
        for x in 0..size {
            let mut acc = [0f32; 3];
            // 2×2 supersampling keeps edges and thin markings from aliasing into noise.
            for (sx, sy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let (dx, dy) = (x as f32 + sx - shot.centre.0, y as f32 + sy - shot.centre.1);
                let u = (dx * cos + dy * sin) / (shot.radius * traits.aspect.sqrt());
                let v = (-dx * sin + dy * cos) / (shot.radius / traits.aspect.sqrt());
                let colour = if traits.shape.contains(u, v) {
                    if marked(traits, u * mcos + v * msin, -u * msin + v * mcos, (mcos, msin)) { marks } else { body }
                } else {
                    shot.background(x as f32 / size as f32, y as f32 / size as f32)
                };
                acc.iter_mut().zip(colour).for_each(|(a, c)| *a += c / 4.0);
            }
            for channel in acc {
                let noise: f32 = rng.gen_range(-0.03..0.03);
                rgb.push(((channel + noise).clamp(0.0, 1.0) * 255.0).round() as u8);
            }
        }
    }
    rgb
}

/// Whether the body point `(a, b)` (in the markings' rotated frame) is painted.
fn marked(traits: &Traits, a: f32, b: f32, (mcos, msin): (f32, f32)) -> bool {
    let f = traits.frequency;
    let period = |t: f32| t - t.floor();
    match traits.pattern {
        Pattern::Stripes => period(a * f * 0.5) < traits.stroke,
        Pattern::Spots => {
            let (cu, cv) = (period(a * f * 0.5) - 0.5, period(b * f * 0.5) - 0.5);
            (cu * cu + cv * cv).sqrt() < traits.stroke * 0.6
        }
        Pattern::Rings => {
            // The rings' centre sits off the body's centre, in the direction of the angle.
            let (cu, cv) = (a - 0.45 * mcos, b - 0.45 * msin);
            period((cu * cu + cv * cv).sqrt() * f * 0.5) < traits.stroke
        }
        Pattern::Zigzag => {
            let tri = (period(b * f * 0.5) - 0.5).abs() * 2.0;
            period((a + 0.5 * tri / f.max(1.0)) * f * 0.5) < traits.stroke
        }
    }
}

/// What varies between photos of the same species.
struct Shot {
    centre: (f32, f32),
    radius: f32,
    rotation: f32,
    ground: [f32; 3],
    ground2: [f32; 3],
    gradient: (f32, f32),
}

impl Shot {
    fn draw(size: usize, rng: &mut impl Rng) -> Shot {
        let s = size as f32;
        let hue = rng.gen_range(0.0..360.0);
        Shot {
            centre: (s * rng.gen_range(0.42..0.58), s * rng.gen_range(0.42..0.58)),
            radius: s * rng.gen_range(0.27..0.36),
            rotation: rng.gen_range(-0.3..0.3),
            ground: hsv(hue, rng.gen_range(0.05..0.3), rng.gen_range(0.35..0.9)),
            ground2: hsv(hue + rng.gen_range(-40.0..40.0), rng.gen_range(0.05..0.3), rng.gen_range(0.35..0.9)),
            gradient: (rng.gen_range(-1.0..1.0), rng.gen_range(-1.0..1.0)),
        }
    }

    /// A two-colour gradient background, like an out-of-focus habitat.
    fn background(&self, x: f32, y: f32) -> [f32; 3] {
        let t = (0.5 + 0.5 * (self.gradient.0 * (x - 0.5) + self.gradient.1 * (y - 0.5))).clamp(0.0, 1.0);
        [0, 1, 2].map(|c| self.ground[c] * (1.0 - t) + self.ground2[c] * t)
    }
}

/// HSV (hue in degrees, saturation and value in 0..1) to linear RGB in 0..1.
fn hsv(hue: f32, saturation: f32, value: f32) -> [f32; 3] {
    let h = hue.rem_euclid(360.0) / 60.0;
    let c = value * saturation;
    let x = c * (1.0 - (h % 2.0 - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = value - c;
    [r + m, g + m, b + m]
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn traits(pattern: Pattern) -> Traits {
        Traits {
            shape: Shape::Disc,
            body_hue: 120.0,
            pattern,
            mark_hue: 300.0,
            aspect: 1.0,
            frequency: 4.0,
            angle: 0.0,
            stroke: 0.4,
            shade: 0.85,
        }
    }

    #[test]
    fn photos_vary_but_keep_the_body_colour() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let a = paint(&traits(Pattern::Stripes), 32, &mut rng);
        let b = paint(&traits(Pattern::Stripes), 32, &mut rng);
        assert_eq!(a.len(), 32 * 32 * 3);
        assert_ne!(a, b, "two shots of one species differ");
        // The centre pixel is on the body: green body or magenta markings, never the grey ground.
        let centre = &a[(16 * 32 + 16) * 3..][..3];
        let (r, g, b) = (f32::from(centre[0]), f32::from(centre[1]), f32::from(centre[2]));
        assert!(g > r + 40.0 || (r > g + 40.0 && b > g + 40.0), "{centre:?}");
    }

    #[test]
    fn hsv_primaries() {
        assert_eq!(hsv(0.0, 1.0, 1.0), [1.0, 0.0, 0.0]);
        assert_eq!(hsv(120.0, 1.0, 1.0), [0.0, 1.0, 0.0]);
        assert_eq!(hsv(240.0, 1.0, 0.5), [0.0, 0.0, 0.5]);
        assert_eq!(hsv(-120.0, 0.0, 0.25), [0.25, 0.25, 0.25]);
    }

    #[test]
    fn every_shape_and_pattern_paints_both_colours() {
        for pattern in Pattern::ALL {
            for shape in Shape::RADIAL.into_iter().chain(Shape::BILATERAL) {
                let t = Traits { shape, ..traits(pattern) };
                let image = paint(&t, 48, &mut ChaCha8Rng::seed_from_u64(3));
                let greenish = image
                    .chunks(3)
                    .filter(|p| u16::from(p[1]) > u16::from(p[0]) + 60 && u16::from(p[1]) > u16::from(p[2]) + 60)
                    .count();
                assert!(greenish > 20, "{shape:?} {pattern:?}: body colour painted on {greenish} pixels");
            }
        }
    }
}
