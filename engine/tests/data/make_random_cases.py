"""Generates `random_cases.jsonl`: randomized texts, mostly mojibake, with the
cleaned text and ids that open_clip 3.3.0 (ftfy 6.3.1, regex 2026.11.19,
Python 3.11) gives them. It complements the shared fixture with cases for every
branch of ftfy's encoding repair.

    python3 make_random_cases.py /path/to/open_clip/tokenizer.py > random_cases.jsonl

40000 texts are drawn from two seeded generators; for every step that
`ftfy.fix_and_explain` reports, up to 16 of them are kept (spread over lengths,
at most 160 characters). 80 more come from a third generator aimed at Unicode
details (final sigma, combining marks, letters newer than Python's Unicode 14).
`ids` is the framed sequence without its zero padding. The Rust side agreed on
100000 such texts (20000 per generator and seed) when this was written.
"""

import collections
import importlib.util
import json
import random
import sys
import types

import ftfy

# open_clip's tokenizer module imports torch and numpy only for its batch call.
_torch = types.ModuleType("torch")
_torch.LongTensor = _torch.Tensor = object
sys.modules.setdefault("torch", _torch)
sys.modules.setdefault("numpy", types.ModuleType("numpy"))
_spec = importlib.util.spec_from_file_location("octok", sys.argv[1])
octok = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(octok)
TOK = octok._tokenizer

WORDS = ["Café", "naïve", "Müller", "Ångström", "Ελληνικά", "Русский", "日本語", "über", "façade", "señor",
         "crème brûlée", "Łódź", "Škoda", "İstanbul", "ΟΔΟΣ", "Corvus corax", "“quoted”", "it’s", "—", "…", "€100",
         "🐦", "🦜", "©", "®", "™", "½", "µm", "°C", "±", "×", "·", "à la", "Ñandú", "Þór", "ß", "œuvre", "ﬁsh",
         "Ｃｏｒｖｕｓ", "ｶﾀｶﾅ", "\u00a0", "\u2009", "\t", "\n", "\r\n", "&amp;", "&lt;", "&eacute;", "&#39;", "&#x1F426;",
         "&nbsp;", "&EACUTE;", "&copy", "&notit;", "<b>", "a", "the", "photo", "of", "ÿ", "Ÿ", "ð", "Ã", "Â", "â",
         "\x85", "\x92", "\x9d", "\u0345", "e\u0301", "ǅ", "ĳ", "'s", "'LL", "<end_of_text>", "<START_OF_TEXT>", "12345",
         "३४", "٣", "Ⅻ", "\ufeff", "\x1b[31m", "\x00", "\u2028", "\u200b", "ſ", "K", "ǰ", "ﬀ"]
ENCODINGS = ["cp1252", "latin-1", "cp1251", "mac_roman", "cp437", "iso-8859-2", "cp1250", "cp1253", "cp1254",
             "cp1257", "cp850", "koi8-r"]
HIGHS = "".join(bytes(range(0x80, 0x100)).decode(e, errors="ignore") for e in ENCODINGS[:10])


def mojibake(rng, s):
    for _ in range(rng.choice([1, 1, 1, 2])):
        try:
            s = s.encode("utf-8").decode(rng.choice(ENCODINGS), errors=rng.choice(["replace", "ignore", "strict"]))
        except UnicodeDecodeError:
            pass
    if rng.random() < 0.2:
        s = s.replace("\xa0", " ")
    return s


def cesu8(s):
    out = b""
    for ch in s:
        cp = ord(ch)
        if cp >= 0x10000:
            pair = chr(0xD800 + ((cp - 0x10000) >> 10)) + chr(0xDC00 + ((cp - 0x10000) & 0x3FF))
            out += pair.encode("utf-8", "surrogatepass")
        elif cp == 0:
            out += b"\xc0\x80"
        else:
            out += ch.encode("utf-8")
    return out


def general(rng):
    s = rng.choice([" ", "", "  "]).join(rng.choice(WORDS) for _ in range(rng.randint(1, 8)))
    r = rng.random()
    if r < 0.45:
        return mojibake(rng, s)
    if r < 0.55:
        k = rng.randint(0, len(s))
        return s[:k] + mojibake(rng, s[k:])
    if r < 0.65:
        pools = [(0x20, 0x7E), (0x80, 0x2FF), (0x370, 0x52F), (0x2000, 0x27FF), (0x3000, 0xFFFF), (0x10000, 0x1FFFF)]
        s = "".join(chr(rng.randint(*rng.choice(pools))) for _ in range(rng.randint(1, 30)))
        return "".join(c for c in s if not 0xD800 <= ord(c) <= 0xDFFF)
    return s


def encoding_heavy(rng):
    s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 6)))
    r = rng.random()
    if r < 0.25:
        return cesu8(s).decode(rng.choice(["cp1252", "latin-1", "cp1251"]), errors="replace")
    if r < 0.45:
        s = mojibake(rng, s)
        return "".join(c if rng.random() > 0.08 else rng.choice("?\ufffd \xa0") for c in s)
    if r < 0.65:
        return "".join(rng.choice(HIGHS + "abc  ") for _ in range(rng.randint(1, 12)))
    if r < 0.8:
        return (rng.choice(WORDS) + " " + mojibake(rng, s) + " " + rng.choice(WORDS)
                + rng.choice(["\n", "<", "\r", " "]) + mojibake(rng, s))
    return mojibake(rng, mojibake(rng, s))


MARKS = [chr(c) for c in range(0x300, 0x370)] + ["\u0345", "\u0591", "\u093c", "\u1ab0", "\u20d0", "\U00016d67"]
HANGUL = [chr(c) for c in [*range(0x1100, 0x1113), *range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]] + ["가", "각"]
SIGMAS = ["Σ", "ΣΑ", "ΟΣ", "Σ.", "Σ'", "ΑΣ\u0301", "Σ\u0345", "A.Σ", "\u0345Σ"]
# Letters newer than Python 3.11's Unicode 14 (Garay, Beria Erfe, Latin, Cyrillic, ...).
NEWER = [chr(c) for c in [0x10D50, 0x10D70, 0x16EA0, 0x16EBB, 0xA7CB, 0xA7DC, 0x1C89, 0x1C8A, 0x0558, 0x058B,
                          0x1E030, 0x16D68, 0x11F00]]


def unicode_heavy(rng):
    """Combining marks, conjoining jamo, Σ in every context, post-Unicode-14 letters."""
    parts = []
    for _ in range(rng.randint(1, 10)):
        r = rng.random()
        if r < 0.25:
            parts.append(rng.choice(WORDS) + "".join(rng.choice(MARKS) for _ in range(rng.randint(0, 3))))
        elif r < 0.4:
            parts.append("".join(rng.choice(HANGUL) for _ in range(rng.randint(1, 4))))
        elif r < 0.55:
            parts.append(rng.choice(SIGMAS))
        elif r < 0.7:
            parts.append(rng.choice(NEWER) + rng.choice(["", rng.choice(MARKS), "a"]))
        elif r < 0.85:
            parts.append(mojibake(rng, rng.choice(WORDS) + " " + rng.choice(WORDS)))
        else:
            parts.append(rng.choice(["\n", "<", "&amp;", "&lt;b&gt;", "\r\n", " ", "\u2029", "&#x85;", "&#150;",
                                     "&Sigma;"]))
    return rng.choice([" ", ""]).join(parts)


def framed(text):
    return [TOK.sot_token_id] + TOK.encode(text)[:75] + [TOK.eot_token_id]


def main():
    texts = []
    for seed, make in [(1, general), (7, encoding_heavy)]:
        rng = random.Random(seed)
        texts += [make(rng) for _ in range(20000)]
    by_step = collections.defaultdict(list)
    for i, text in enumerate(texts):
        if len(text) <= 160:
            for step in {tuple(x) for x in ftfy.fix_and_explain(text).explanation}:
                by_step[step].append(i)
    # The first 80 Unicode-heavy texts are kept whatever ftfy does with them.
    rng = random.Random(11)
    extra = [unicode_heavy(rng) for _ in range(80)]
    chosen = set(range(len(texts), len(texts) + len(extra)))
    texts += extra
    for step in sorted(by_step):
        picks = sorted(by_step[step], key=lambda i: (len(texts[i]), i))
        chosen.update(picks[:: max(1, len(picks) // 16)][:16])
    seen = set()
    for i in sorted(chosen):
        if texts[i] in seen:
            continue
        seen.add(texts[i])
        row = {"text": texts[i], "clean": octok._clean_lower(texts[i]), "ids": framed(texts[i])}
        print(json.dumps(row, ensure_ascii=True))


main()
