"""Captioned content with known truth, and caption defects injected into a copy of the truth.

:func:`caption_scene` places recorded voice clips (the Hedgewars voice packs, Debian package
``hedgewars-data``: real recorded speech, one phrase a file) and espeak-ng sentences at known times
on a quiet bed, and returns the audio with the matching cues: each cue starts where its utterance's
speech starts and stays up long enough to read (at most 14 characters a second, at least 0.9 s, at
least 0.3 s after the speech ends), with gaps of at least 0.4 s. Those cues are the ground truth.
:func:`inject` then damages a copy of them (shifted, dropped, spurious, overlapped, sped up,
mistimed, badly laid out, or a broken file) and says where, as labels in the findings' terms.

Without ``hedgewars-data`` the clip phrases are spoken by espeak-ng instead (``info["clips"]``
says which). Voice packs belong to one split each (see SOURCES.md).
"""

from __future__ import annotations

import tempfile
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rayqa.simulate.labels import Label, SimulationError

VOICES_DIR = Path("/usr/share/games/hedgewars/Data/Sounds/voices")
# English voice packs by split (Singer is left out: VAD does not take singing for speech; the
# Default_xx and Russian packs speak other languages or accents than the phrase names).
VOICE_PACKS = {"train": ("Default", "British", "Classic", "Mobster", "Pirate"),
               "heldout": ("HillBilly", "Robot", "Surfer")}
# File stem -> the phrase it is named after (the cue text; a voice may word it its own way).
PHRASES = {
    "Amazing": "Amazing!", "Boring": "Boring!", "Brilliant": "Brilliant!", "Byebye": "Bye-bye!",
    "Comeonthen": "Come on, then!", "Coward": "Coward!", "Cutitout": "Cut it out!", "Drat": "Drat!",
    "Enemydown": "Enemy down!", "Excellent": "Excellent!", "Fire": "Fire!", "Firstblood": "First blood!",
    "Flawless": "Flawless!", "Flyaway": "Fly away!", "Gonnagetyou": "Gonna get you!", "Grenade": "Grenade!",
    "Hello": "Hello!", "Hurry": "Hurry!", "Illgetyou": "I'll get you!", "Incoming": "Incoming!",
    "Justyouwait": "Just you wait!", "Kamikaze": "Kamikaze!", "Leavemealone": "Leave me alone!", "Melon": "Melon!",
    "Missed": "Missed!", "Nutter": "Nutter!", "Ohdear": "Oh dear!", "Oops": "Oops!", "Ouch": "Ouch!",
    "Reinforcements": "Reinforcements!", "Revenge": "Revenge!", "Runaway": "Run away!", "Sameteam": "Same team!",
    "Solong": "So long!", "Stupid": "Stupid!", "Takecover": "Take cover!", "Thisoneismine": "This one is mine!",
    "Traitor": "Traitor!", "Uh-oh": "Uh-oh!", "Victory": "Victory!", "Watchit": "Watch it!",
    "Watchthis": "Watch this!", "Yessir": "Yes, sir!", "Youllregretthat": "You'll regret that!",
}
MAX_TRUTH_CPS = 14.0
# What each caption recipe needs of the scene (caption_scene's ``needs``).
NEEDS = {"caption_dropped": ("long",), "caption_spurious": ("pause",), "caption_fast": ("fast",),
         "caption_layout": ("long",), "caption_offset": ("long", "margin")}
MARGIN_S = 1.3  # "margin": speech keeps this far from both ends, so a shift of up to 1.2 s moves no cue out
LINE_CHARS = 40

# Caption defect kinds by recipe (rayqa/simulate/dataset.py's caption recipes).
TIMING_KINDS = ("too_short", "zero", "negative", "past_end", "short_gap")
LAYOUT_KINDS = ("long_line", "three_lines")
BROKEN_KINDS = ("random_bytes", "huge_line", "broken_timing", "cp1252", "utf16_no_bom", "empty", "not_captions")


@dataclass(frozen=True)
class SimCue:
    start_s: float
    end_s: float
    text: str  # lines joined by "\n"
    speech_start_s: float
    speech_end_s: float
    source: str  # "clip:<pack>/<stem>" or "espeak:<voice>"

    @property
    def chars(self) -> int:
        return len(self.text.replace("\n", ""))


def voice_clips(split: str) -> list[Path]:
    """The voice-pack clips of ``split`` that are installed (empty without hedgewars-data)."""
    out = []
    for pack in VOICE_PACKS[split]:
        for stem in PHRASES:
            p = VOICES_DIR / pack / f"{stem}.ogg"
            if p.is_file():
                out.append(p)
    return out


def _decode_clip(path: Path, sr: int) -> np.ndarray:
    import av

    chunks = []
    with av.open(str(path)) as c:
        rs = av.AudioResampler(format="flt", layout="mono", rate=sr)
        for frame in c.decode(audio=0):
            chunks.extend(r.to_ndarray().reshape(-1) for r in rs.resample(frame))
        chunks.extend(r.to_ndarray().reshape(-1) for r in rs.resample(None))
    x = np.concatenate(chunks).astype(np.float64) if chunks else np.zeros(0)
    peak = np.max(np.abs(x)) if x.size else 0.0
    return x / peak if peak > 0 else x


def _trim(x: np.ndarray, sr: int, floor_db: float = -35.0) -> tuple[int, int]:
    """First and last sample of the utterance: 10 ms blocks within ``floor_db`` of its peak."""
    block = max(1, sr // 100)
    n = len(x) // block
    if n == 0:
        return 0, len(x)
    level = np.abs(x[: n * block]).reshape(n, block).max(axis=1)
    loud = np.flatnonzero(level >= np.max(level) * 10 ** (floor_db / 20))
    return int(loud[0] * block), int(min(len(x), (loud[-1] + 1) * block))


def wrap(text: str, width: int = LINE_CHARS) -> str:
    return "\n".join(textwrap.wrap(text, width)) or text


def caption_scene(duration_s: float, sample_rate: int, rng: np.random.Generator, split: str = "train",
                  needs: tuple[str, ...] = ()) -> tuple[np.ndarray, list[SimCue], dict[str, Any]]:
    """Mono speech audio of ``duration_s`` and its true cues (see the module's docstring).

    ``needs`` asks for what a defect recipe works on: ``"short"`` a short phrase (a voice clip),
    ``"long"`` a sentence of more than 44 characters, ``"pause"`` a speechless stretch of 2.5-3.5 s,
    ``"fast"`` a sentence spoken at 300-380 words a minute and captioned verbatim (its cue needs
    more than 20 characters a second: the reading-speed defect), ``"margin"`` no speech within
    :data:`MARGIN_S` of either end. One short phrase is always there."""
    from rayqa.simulate import pristine as P

    if split not in VOICE_PACKS:
        raise SimulationError(f"split must be 'train' or 'heldout', got {split!r}")
    n = int(round(duration_s * sample_rate))
    track = np.zeros(n)
    clips = voice_clips(split)
    exe = P.espeak_path()
    langs = P.VOICES[split]
    english = next(v for v in langs if v.startswith("en"))
    sentences = [(lang, s) for lang, pool in P.SENTENCES[split].items() for s in pool if len(s) <= 2 * LINE_CHARS]
    long_ones = [x for x in sentences if len(x[1]) > 44] or sentences
    cues: list[SimCue] = []
    plan = [k for k in ("short", "long", "fast") if k == "short" or k in needs]
    plan = [plan[i] for i in rng.permutation(len(plan))]
    pause_at = int(rng.integers(-1, len(plan))) if "pause" in needs else None  # after plan[pause_at]; -1: first
    margin = MARGIN_S if "margin" in needs else 0.0
    pos = margin + float(rng.uniform(0.3, 0.6)) + (float(rng.uniform(2.5, 3.5)) if pause_at == -1 else 0.0)
    step = 0

    def utterance(kind: str, tmp: Path, attempt: int):
        if kind == "short" or (kind == "any" and rng.random() < 0.5):
            stem = list(PHRASES)[int(rng.integers(len(PHRASES)))]
            usable = [c for c in clips if c.stem == stem] or clips
            if usable:
                path = usable[int(rng.integers(len(usable)))]
                return _decode_clip(path, sample_rate), PHRASES[path.stem], f"clip:{path.parent.name}/{path.stem}", 0.3
            x = P._resample(P._espeak(exe, PHRASES[stem], f"{english}+m2", 150, 50, tmp / "u.wav"), P._ESPEAK_RATE,
                            sample_rate)
            return x, PHRASES[stem], f"espeak:{english}", 0.3
        pool = long_ones if kind == "long" else [x for x in sentences if len(x[1]) > 30] if kind == "fast" else sentences
        if attempt:  # it did not fit: the shortest ones, spoken faster
            pool = sorted(pool, key=lambda x: len(x[1]))[: max(1, len(pool) // (2 * attempt))]
        lang, text = pool[int(rng.integers(len(pool)))]
        voice = next((v for v in langs if v.split("-")[0] == lang), english)
        variant = P.VOICE_VARIANTS[split][int(rng.integers(len(P.VOICE_VARIANTS[split])))]
        wpm = int(rng.integers(300, 381)) if kind == "fast" else int(rng.integers(135, 165)) + 15 * attempt
        x = P._resample(P._espeak(exe, text, f"{voice}+{variant}", wpm, int(rng.integers(30, 71)), tmp / "u.wav"),
                        P._ESPEAK_RATE, sample_rate)
        return x, text, f"espeak:{voice}+{variant}@{wpm}wpm", 0.2 if kind == "fast" else 0.3

    with tempfile.TemporaryDirectory(prefix="rayqa-captions-") as tmp:
        while pos < duration_s - margin - 1.0:
            kind = plan[step] if step < len(plan) else "any"
            room = duration_s - margin - 0.3 - pos
            for attempt in range(3):
                x, text, source, linger = utterance(kind, Path(tmp), attempt)
                a, b = _trim(x, sample_rate)
                x = x[a:b]
                length = len(x) / sample_rate
                hold = length + linger if kind == "fast" else max(length + linger, 0.9, len(text) / MAX_TRUTH_CPS)
                if hold <= room:
                    break
            else:
                if kind != "any":
                    raise SimulationError(f"a {duration_s:g} s caption scene has no room for its {kind!r} utterance")
                break
            i = int(round(pos * sample_rate))
            m = min(len(x), n - i)
            track[i:i + m] += rng.uniform(0.5, 0.9) * x[:m]
            cues.append(SimCue(round(pos, 3), round(pos + hold, 3), wrap(text), round(pos, 3), round(pos + length, 3),
                               source))
            gap = float(rng.uniform(2.5, 3.5)) if step == pause_at else float(rng.uniform(0.4, 1.2))
            pos = pos + hold + gap
            step += 1
    # A faint room tone under everything, and on half the scenes a noise bed 25-35 dB under the voice.
    audio = track + P._decorrelated(rng, n, sample_rate, 1, P._band(40, 6000, -0.5), 0.5)[0] * 10 ** (-55 / 20)
    bed, level_db = "room_tone", -55.0
    if rng.random() < 0.5:
        level_db = float(rng.uniform(-35.0, -25.0))
        noise, binfo = P.audio_scene("noise_bed", duration_s, sample_rate, 1, rng, level_dbfs=level_db, split=split,
                                     return_info=True)
        audio = audio + noise[0]
        bed = binfo.get("bed", "noise_bed")
    info = {"cues": len(cues), "clips": "hedgewars-data" if clips else "espeak-ng (hedgewars-data not installed)",
            "sources": [c.source for c in cues], "bed": bed, "bed_level_db": round(level_db, 1)}
    return audio.astype(np.float32), cues, info


# -- cue files ------------------------------------------------------------------------------------------

def _stamp(t: float, sep: str = ",") -> str:
    ms = int(round(max(0.0, t) * 1000))
    h, ms = divmod(ms, 3600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


def to_srt(cues: list[SimCue], crlf: bool = False) -> str:
    # Negative durations are written as they are (end before start): that is the defect.
    blocks = [f"{i}\n{_stamp(c.start_s)} --> {_stamp(c.end_s)}\n{c.text}" for i, c in enumerate(cues, 1)]
    text = "\n\n".join(blocks) + "\n"
    return text.replace("\n", "\r\n") if crlf else text


def to_vtt(cues: list[SimCue]) -> str:
    blocks = [f"{_stamp(c.start_s, '.')} --> {_stamp(c.end_s, '.')}\n{c.text}" for c in cues]
    return "WEBVTT\n\n" + "\n\n".join(blocks) + "\n"


# -- defects -------------------------------------------------------------------------------------------

def _pick(rng: np.random.Generator, items: list[int], what: str) -> int:
    if not items:
        raise SimulationError(f"no cue fit for {what} in this scene")
    return items[int(rng.integers(len(items)))]


def inject(recipe: str, cues: list[SimCue], params: dict[str, Any], duration_s: float, fps: float,
           rng: np.random.Generator) -> tuple[list[SimCue] | None, bytes | None, list[Label]]:
    """Damage a copy of the true ``cues``: the cues to write (or the raw bytes of a broken file, or
    neither for a missing file) and the labels saying where."""
    cues = list(cues)
    spoken_long = [i for i, c in enumerate(cues) if c.speech_end_s - c.speech_start_s >= 1.6]
    short = [i for i, c in enumerate(cues) if c.speech_end_s - c.speech_start_s < 0.9 and c.chars <= 12]
    d = dict(params)

    def label(defect: str, a: float, b: float, **extra) -> Label:
        a, b = max(0.0, min(a, duration_s)), max(0.0, min(b, duration_s))
        if b <= a:
            a, b = max(0.0, min(a, duration_s - 0.1)), min(duration_s, max(a, duration_s - 0.1) + 0.1)
        return Label(defect, round(a, 3), round(b, 3), {**d, **extra})

    if recipe == "caption_offset":
        off = d["offset_ms"] / 1000.0
        # Cues pushed before the start are clipped to it (as an editor's re-timing would), those
        # pushed past the end are dropped.
        moved = [replace(c, start_s=round(max(0.0, c.start_s + off), 3), end_s=round(c.end_s + off, 3)) for c in cues]
        moved = [c for c in moved if c.end_s - c.start_s >= 0.5 and c.end_s <= duration_s]
        if not moved:
            raise SimulationError("caption_offset: no cue left inside the item")
        return moved, None, [label("caption_speech_mismatch", moved[0].start_s, moved[-1].end_s, kind="offset")]
    if recipe == "caption_dropped":
        i = _pick(rng, spoken_long or [int(np.argmax([c.speech_end_s - c.speech_start_s for c in cues]))],
                  "caption_dropped")
        c = cues.pop(i)
        return cues, None, [label("caption_speech_mismatch", c.speech_start_s, c.speech_end_s, kind="speech_without_cue",
                                  text=c.text)]
    if recipe == "caption_spurious":
        # A cue over the longest speechless stretch (2.5 s or more between cues).
        edges = [0.0] + [x for c in cues for x in (c.start_s, c.end_s)] + [duration_s]
        gaps = [(edges[k], edges[k + 1]) for k in range(0, len(edges), 2) if edges[k + 1] - edges[k] >= 2.5]
        if not gaps:
            raise SimulationError("caption_spurious: no speechless stretch of 2.5 s in this scene")
        a, b = max(gaps, key=lambda g: g[1] - g[0])
        text = PHRASES[list(PHRASES)[int(rng.integers(len(PHRASES)))]]
        start = round(a + 0.6, 3)
        end = round(min(b - 0.6, start + max(len(text) / MAX_TRUTH_CPS, float(rng.uniform(1.3, 2.0)))), 3)
        if end - start < 1.2:
            raise SimulationError("caption_spurious: stretch too short")
        new = SimCue(start, end, text, start, start, "spurious")
        cues = sorted(cues + [new], key=lambda c: c.start_s)
        return cues, None, [label("caption_speech_mismatch", start, end, kind="cue_without_speech", text=text)]
    if recipe == "caption_overlap":
        if len(cues) < 2:
            raise SimulationError("caption_overlap needs two cues")
        i = int(rng.integers(len(cues) - 1))
        a, b = cues[i], cues[i + 1]
        end = round(min(b.end_s - 0.05, b.start_s + d["overlap_s"]), 3)
        cues[i] = replace(a, end_s=end)
        return cues, None, [label("caption_timing", b.start_s, end, kind="overlap")]
    if recipe == "caption_timing":
        kind = d["kind"]
        if kind == "past_end":
            c = cues[-1]
            cues[-1] = replace(c, end_s=round(duration_s + float(rng.uniform(0.5, 3.0)), 3))
            return cues, None, [label("caption_timing", c.start_s, duration_s, kind=kind)]
        if kind == "short_gap":
            if len(cues) < 2:
                raise SimulationError("short_gap needs two cues")
            i = int(rng.integers(len(cues) - 1))
            gap = round(float(rng.uniform(0.4, 1.5)) / fps, 3)
            cues[i] = replace(cues[i], end_s=round(cues[i + 1].start_s - gap, 3))
            return cues, None, [label("caption_timing", cues[i].end_s, cues[i + 1].start_s, kind=kind, gap_s=gap)]
        i = _pick(rng, short or [int(np.argmin([c.chars for c in cues]))], f"caption_timing {kind}")
        c = cues[i]
        if kind == "too_short":
            end = round(c.start_s + max(c.chars / 16.0, float(rng.uniform(0.3, 0.75))), 3)
            end = min(end, round(c.start_s + 0.8, 3))
        elif kind == "zero":
            end = c.start_s
        else:
            end = round(c.start_s - float(rng.uniform(0.2, 1.0)), 3)
        cues[i] = replace(c, end_s=end)
        return cues, None, [label("caption_timing", c.start_s, max(end, c.start_s + 0.1), kind=kind)]
    if recipe == "caption_fast":
        # The scene spoke one sentence fast and captioned it verbatim (caption_scene's "fast").
        i = _pick(rng, [i for i, c in enumerate(cues) if "wpm" in c.source and int(c.source.split("@")[1][:-3]) >= 300],
                  "caption_fast (a fast sentence)")
        c = cues[i]
        return cues, None, [label("caption_reading_speed", c.start_s, c.end_s, kind="cps",
                                  cps=round(c.chars / (c.end_s - c.start_s), 2))]
    if recipe == "caption_layout":
        kind = d["kind"]
        if kind == "long_line" and not any(c.chars > 44 for c in cues):
            kind = d["kind"] = "three_lines"  # the scene had no sentence long enough
        if kind == "long_line":
            i = _pick(rng, [i for i, c in enumerate(cues) if c.chars > 44], "caption_layout long_line")
            cues[i] = replace(cues[i], text=cues[i].text.replace("\n", " "))
        else:
            i = _pick(rng, [i for i, c in enumerate(cues) if len(cues[i].text.split()) >= 3], "caption_layout three_lines")
            words = cues[i].text.replace("\n", " ").split()
            k = len(words)
            cues[i] = replace(cues[i], text="\n".join(" ".join(words[j * k // 3:(j + 1) * k // 3]) for j in range(3)))
        return cues, None, [label("caption_reading_speed", cues[i].start_s, cues[i].end_s, kind=kind)]
    if recipe == "caption_broken":
        kind = d["kind"]
        whole = [label("caption_malformed", 0.0, duration_s, kind=kind)]
        if kind == "random_bytes":
            return None, np.random.default_rng(int(rng.integers(1 << 31))).bytes(int(rng.integers(500, 50000))), whole
        if kind == "huge_line":
            return None, b"1\n00:00:01,000 --> 00:00:02,000\n" + b"A" * int(rng.integers(100_000, 1_000_000)) + b"\n", whole
        if kind == "empty":
            return None, b"", whole
        if kind == "not_captions":
            return None, b"\x00\x00\x00\x18ftypmp42" + bytes(200), whole
        if kind == "broken_timing":
            i = _pick(rng, short or [int(np.argmin([c.chars for c in cues]))], "caption_broken broken_timing")
            text = to_srt(cues)
            bad = _stamp(cues[i].start_s)
            broken = bad[:6] + "x" + bad[7:]  # 00:00:x3,500
            return None, text.replace(f"{bad} -->", f"{broken} -->", 1).encode(), whole
        if kind == "cp1252":
            i = int(rng.integers(len(cues)))
            cues[i] = replace(cues[i], text="“" + cues[i].text + "”")
            return None, to_srt(cues, crlf=True).encode("cp1252", errors="replace"), whole
        if kind == "utf16_no_bom":
            return None, to_srt(cues).encode("utf-16-le"), whole
        raise SimulationError(f"unknown caption_broken kind {kind!r}")
    if recipe == "caption_missing":
        return None, None, [label("caption_missing", 0.0, duration_s)]
    raise SimulationError(f"unknown caption recipe {recipe!r}")


def write_captions(out_dir: Path, item_id: str, truth: list[SimCue], cues: list[SimCue] | None, raw: bytes | None,
                   recipe: str, rng: np.random.Generator) -> str:
    """Write the truth (``captions/<item>.truth.srt``) and the file to scan; returns the latter's
    path relative to ``out_dir`` (for a missing file: the path that does not exist)."""
    folder = out_dir / "captions"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{item_id}.truth.srt").write_text(to_srt(truth), encoding="utf-8")
    if recipe == "caption_missing":
        return f"captions/{item_id}.srt"
    if raw is not None:
        (folder / f"{item_id}.srt").write_bytes(raw)
        return f"captions/{item_id}.srt"
    style = int(rng.integers(3))  # SRT, SRT with CR LF and a BOM, WebVTT
    if style == 2:
        (folder / f"{item_id}.vtt").write_text(to_vtt(cues), encoding="utf-8")
        return f"captions/{item_id}.vtt"
    data = to_srt(cues, crlf=style == 1).encode("utf-8")
    (folder / f"{item_id}.srt").write_bytes((b"\xef\xbb\xbf" if style == 1 else b"") + data)
    return f"captions/{item_id}.srt"


