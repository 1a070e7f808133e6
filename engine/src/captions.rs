//! The words BioCLIP was trained and evaluated with: caption text types and the
//! 80 OpenAI ImageNet prompt templates used for zero-shot label embeddings.

use std::fmt;
use std::str::FromStr;

use arbor_index::{Lineage, Rank};

/// How a taxon is described in a caption (BioCLIP, section 3.3).
///
/// `Mixed` draws one of the other five per training step; it generalises best
/// to species never seen in training.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TextType {
    /// The common (vernacular) name: "common raven".
    Common,
    /// The binomial: "Corvus corax".
    Scientific,
    /// All seven ranks: "Animalia Chordata Aves Passeriformes Corvidae Corvus corax".
    Taxonomic,
    /// "Corvus corax with common name common raven".
    ScientificCommon,
    /// The seven ranks, then "with common name …".
    TaxonomicCommon,
    /// One of the five above, drawn per training step.
    Mixed,
}

impl TextType {
    /// The five concrete types `Mixed` draws from, in BioCLIP's order.
    pub const CONCRETE: [TextType; 5] = [
        TextType::Common,
        TextType::Scientific,
        TextType::Taxonomic,
        TextType::ScientificCommon,
        TextType::TaxonomicCommon,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            TextType::Common => "common",
            TextType::Scientific => "scientific",
            TextType::Taxonomic => "taxonomic",
            TextType::ScientificCommon => "sci+common",
            TextType::TaxonomicCommon => "taxonomic+common",
            TextType::Mixed => "mixed",
        }
    }

    /// The concrete type to use at a training step: itself, or for `Mixed`
    /// the one picked by `draw` (an index into [`TextType::CONCRETE`], reduced modulo 5).
    pub fn resolve(self, draw: u64) -> TextType {
        match self {
            TextType::Mixed => TextType::CONCRETE[(draw % 5) as usize],
            t => t,
        }
    }

    /// The text naming a taxon, without the "a photo of" frame. `Mixed` is
    /// described as `TaxonomicCommon` (resolve it first to draw).
    ///
    /// Ranks keep their case, empty ranks are skipped (BioCLIP removed the double
    /// spaces they leave), and a missing common name falls back to the binomial.
    pub fn describe(self, lineage: &Lineage, common_name: &str) -> String {
        let scientific = join(&[lineage.get(Rank::Genus), lineage.get(Rank::Species)]);
        let ranks: Vec<&str> = lineage.0.iter().map(String::as_str).collect();
        let taxonomic = join(&ranks);
        let common = common_name.trim();
        let with_common = |name: String| {
            if common.is_empty() { name } else { format!("{name} with common name {common}") }
        };
        match self {
            TextType::Common if common.is_empty() => scientific,
            TextType::Common => common.to_owned(),
            TextType::Scientific => scientific,
            TextType::Taxonomic => taxonomic,
            TextType::ScientificCommon => with_common(scientific),
            TextType::TaxonomicCommon | TextType::Mixed => with_common(taxonomic),
        }
    }

    /// A training caption: `a photo of {description}.`
    pub fn caption(self, lineage: &Lineage, common_name: &str) -> String {
        format!("a photo of {}.", self.describe(lineage, common_name))
    }
}

/// Joins the non-empty names with single spaces.
fn join(names: &[&str]) -> String {
    names.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
}

impl fmt::Display for TextType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TextType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = match s.to_ascii_lowercase().as_str() {
            "common" => TextType::Common,
            "scientific" | "sci" => TextType::Scientific,
            "taxonomic" | "tax" => TextType::Taxonomic,
            "sci+common" | "scientific+common" => TextType::ScientificCommon,
            "taxonomic+common" | "tax+common" => TextType::TaxonomicCommon,
            "mixed" => TextType::Mixed,
            _ => {
                return Err(format!(
                    "unknown text type {s:?} (expected common, scientific, taxonomic, sci+common, taxonomic+common or mixed)"
                ));
            }
        };
        Ok(t)
    }
}

/// The label pybioclip's tree-of-life embeddings were made from: seven ranks and
/// the common name joined by spaces, empty ones included (the tokenizer's
/// whitespace collapse makes that equal to skipping them).
pub fn tree_of_life_label(lineage: &Lineage, common_name: &str) -> String {
    lineage.label(common_name)
}

/// Prompt templates for zero-shot label embeddings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub enum Templates {
    /// The label as it is.
    None,
    /// The 80 OpenAI ImageNet templates, each embedding L2-normalised, averaged
    /// and re-normalised (open_clip's and pybioclip's zero-shot recipe).
    #[default]
    OpenAi80,
}

impl Templates {
    /// The texts to embed for one label.
    pub fn fill(self, label: &str) -> Vec<String> {
        match self {
            Templates::None => vec![label.to_owned()],
            Templates::OpenAi80 => OPENAI_IMAGENET_TEMPLATES.iter().map(|t| t.replacen("{}", label, 1)).collect(),
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Templates::None => "none",
            Templates::OpenAi80 => "openai80",
        }
    }
}

impl FromStr for Templates {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "none" => Ok(Templates::None),
            "openai80" | "openai" => Ok(Templates::OpenAi80),
            _ => Err(format!("unknown templates {s:?} (expected none or openai80)")),
        }
    }
}

/// open_clip's `OPENAI_IMAGENET_TEMPLATES` (the same list, in the same order, as
/// pybioclip's `OPENA_AI_IMAGENET_TEMPLATE`); `{}` stands for the label.
pub const OPENAI_IMAGENET_TEMPLATES: [&str; 80] = [
    "a bad photo of a {}.",
    "a photo of many {}.",
    "a sculpture of a {}.",
    "a photo of the hard to see {}.",
    "a low resolution photo of the {}.",
    "a rendering of a {}.",
    "graffiti of a {}.",
    "a bad photo of the {}.",
    "a cropped photo of the {}.",
    "a tattoo of a {}.",
    "the embroidered {}.",
    "a photo of a hard to see {}.",
    "a bright photo of a {}.",
    "a photo of a clean {}.",
    "a photo of a dirty {}.",
    "a dark photo of the {}.",
    "a drawing of a {}.",
    "a photo of my {}.",
    "the plastic {}.",
    "a photo of the cool {}.",
    "a close-up photo of a {}.",
    "a black and white photo of the {}.",
    "a painting of the {}.",
    "a painting of a {}.",
    "a pixelated photo of the {}.",
    "a sculpture of the {}.",
    "a bright photo of the {}.",
    "a cropped photo of a {}.",
    "a plastic {}.",
    "a photo of the dirty {}.",
    "a jpeg corrupted photo of a {}.",
    "a blurry photo of the {}.",
    "a photo of the {}.",
    "a good photo of the {}.",
    "a rendering of the {}.",
    "a {} in a video game.",
    "a photo of one {}.",
    "a doodle of a {}.",
    "a close-up photo of the {}.",
    "a photo of a {}.",
    "the origami {}.",
    "the {} in a video game.",
    "a sketch of a {}.",
    "a doodle of the {}.",
    "a origami {}.",
    "a low resolution photo of a {}.",
    "the toy {}.",
    "a rendition of the {}.",
    "a photo of the clean {}.",
    "a photo of a large {}.",
    "a rendition of a {}.",
    "a photo of a nice {}.",
    "a photo of a weird {}.",
    "a blurry photo of a {}.",
    "a cartoon {}.",
    "art of a {}.",
    "a sketch of the {}.",
    "a embroidered {}.",
    "a pixelated photo of a {}.",
    "itap of the {}.",
    "a jpeg corrupted photo of the {}.",
    "a good photo of a {}.",
    "a plushie {}.",
    "a photo of the nice {}.",
    "a photo of the small {}.",
    "a photo of the weird {}.",
    "the cartoon {}.",
    "art of the {}.",
    "a drawing of the {}.",
    "a photo of the large {}.",
    "a black and white photo of a {}.",
    "the plushie {}.",
    "a dark photo of a {}.",
    "itap of a {}.",
    "graffiti of the {}.",
    "a toy {}.",
    "itap of my {}.",
    "a photo of a cool {}.",
    "a photo of a small {}.",
    "a tattoo of the {}.",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn raven() -> Lineage {
        Lineage::new(["Animalia", "Chordata", "Aves", "Passeriformes", "Corvidae", "Corvus", "corax"])
    }

    #[test]
    fn captions_per_text_type_are_bioclips_strings() {
        let l = raven();
        let c = "common raven";
        let want = [
            (TextType::Common, "a photo of common raven."),
            (TextType::Scientific, "a photo of Corvus corax."),
            (TextType::Taxonomic, "a photo of Animalia Chordata Aves Passeriformes Corvidae Corvus corax."),
            (TextType::ScientificCommon, "a photo of Corvus corax with common name common raven."),
            (
                TextType::TaxonomicCommon,
                "a photo of Animalia Chordata Aves Passeriformes Corvidae Corvus corax with common name common raven.",
            ),
        ];
        for (t, s) in want {
            assert_eq!(t.caption(&l, c), s, "{t}");
            assert_eq!(t.name().parse::<TextType>(), Ok(t));
        }
    }

    #[test]
    fn empty_ranks_and_names_leave_no_double_spaces() {
        let l = Lineage::new(["Animalia", "Chordata", "Aves", "", "", "Pica", "pica"]);
        assert_eq!(TextType::Taxonomic.caption(&l, ""), "a photo of Animalia Chordata Aves Pica pica.");
        assert_eq!(TextType::Common.caption(&l, " "), "a photo of Pica pica.");
        assert_eq!(TextType::TaxonomicCommon.describe(&l, ""), "Animalia Chordata Aves Pica pica");
        assert_eq!(tree_of_life_label(&l, ""), "Animalia Chordata Aves   Pica pica ");
    }

    #[test]
    fn mixed_draws_every_concrete_type() {
        let drawn: std::collections::HashSet<TextType> = (0..5).map(|i| TextType::Mixed.resolve(i)).collect();
        assert_eq!(drawn.len(), 5);
        assert!(!drawn.contains(&TextType::Mixed));
        assert_eq!(TextType::Common.resolve(3), TextType::Common);
    }

    #[test]
    fn openai_templates_are_the_80_of_open_clip() {
        assert_eq!(OPENAI_IMAGENET_TEMPLATES.len(), 80);
        assert!(OPENAI_IMAGENET_TEMPLATES.iter().all(|t| t.matches("{}").count() == 1));
        let filled = Templates::OpenAi80.fill("Corvus corax");
        assert_eq!(filled[0], "a bad photo of a Corvus corax.");
        assert_eq!(filled[79], "a tattoo of the Corvus corax.");
        assert_eq!(Templates::None.fill("x"), vec!["x".to_string()]);
    }
}
