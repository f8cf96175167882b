"""Caption sidecars without Ray: reading files the tests write (good, BOM, UTF-16, CR LF, wrong
encoding, broken timing lines, random bytes, one huge line, too big, absent), the pure timing /
reading-speed / speech checks on known cues, and the caption detectors' item-level steps."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from rayqa.captions import checks
from rayqa.captions.read import MAX_FILE_BYTES, Cue, load, parse_bytes
from rayqa.config import ConfigError, ScanConfig
from rayqa.detectors import REGISTRY, build, parse_names
from rayqa.types import Hit, ItemInfo

GOOD = ("1\n00:00:01,000 --> 00:00:03,000\nHello there.\nSecond line.\n\n"
        "2\n00:00:04,000 --> 00:00:06,500\nCafé “quoted”.\n\n"
        "3\n00:00:07,000 --> 00:00:08,000\n[door slams]\n")
TRUTH = [(1.0, 3.0, "Hello there.\nSecond line."), (4.0, 6.5, "Café “quoted”."), (7.0, 8.0, "[door slams]")]


def cues_of(f):
    return [(c.start_s, c.end_s, c.text) for c in f.cues]


def reasons(f):
    return [(p.defect, p.reason) for p in f.problems]


def write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return str(p)


@pytest.mark.parametrize("name,data,encoding", [
    ("utf8", GOOD.encode(), "UTF-8"),
    ("bom", b"\xef\xbb\xbf" + GOOD.encode(), "UTF-8 with BOM"),
    ("crlf", GOOD.replace("\n", "\r\n").encode(), "UTF-8"),
    ("utf16", GOOD.encode("utf-16"), "UTF-16 LE with BOM"),
    ("utf16be", b"\xfe\xff" + GOOD.encode("utf-16-be"), "UTF-16 BE with BOM"),
])
def test_good_files_in_every_accepted_encoding(tmp_path, name, data, encoding):
    f = load(write(tmp_path, f"{name}.srt", data))
    assert f.found and f.format == "srt" and f.encoding == encoding
    assert cues_of(f) == TRUTH and f.problems == []
    assert [c.index for c in f.cues] == [1, 2, 3] and f.cues[0].line == 2 and f.cues[0].chars == 24


def test_webvtt_and_ttml(tmp_path):
    vtt = ("WEBVTT - a title\n\nNOTE a comment\n\nid-1\n00:01.000 --> 00:03.000 align:start line:90%\n"
           "<v Bob>Hello <i>there</i>.</v>\n\n01:00:04.000 --> 01:00:05.000\n♪ music ♪\n")
    f = load(write(tmp_path, "a.vtt", vtt.encode()))
    assert f.format == "vtt" and f.problems == []
    assert cues_of(f) == [(1.0, 3.0, "Hello there."), (3604.0, 3605.0, "♪ music ♪")]
    ttml = ('<?xml version="1.0" encoding="UTF-8"?><tt xmlns="http://www.w3.org/ns/ttml" xml:lang="en"><body><div>'
            '<p begin="00:00:01.000" end="00:00:02.500">One<br/>two</p><p begin="3s" end="4.5s">Three</p></div></body></tt>')
    f = load(write(tmp_path, "a.ttml", ttml.encode()))
    assert f.format == "ttml" and cues_of(f) == [(1.0, 2.5, "One\ntwo"), (3.0, 4.5, "Three")] and f.problems == []


def test_wrong_encoding_is_read_with_a_finding(tmp_path):
    f = load(write(tmp_path, "cp.srt", GOOD.replace("\n", "\r\n").encode("cp1252")))
    assert reasons(f) == [("caption_malformed", "wrong_encoding")]
    assert f.encoding == "cp1252" and cues_of(f) == TRUTH  # still checked: decoded as cp1252
    p = f.problems[0]
    assert "not UTF-8" in p.message and p.details["bytes"].startswith("e9") and p.details["line"] == 8
    f = load(write(tmp_path, "u16.srt", GOOD.encode("utf-16-le")))  # no byte-order mark
    assert reasons(f) == [("caption_malformed", "wrong_encoding")] and cues_of(f) == TRUTH


def test_broken_timing_lines_are_left_out_and_reported(tmp_path):
    text = GOOD.replace("00:00:04,000 --> 00:00:06,500", "00:00:0x,000 --> 00:00:06,500") + \
        "\n4\n00:00:09,000 -> 00:00:10,000\nno arrow\n\n5\n00:00:75,000 --> 00:00:76,000\nseconds over 59\n"
    f = load(write(tmp_path, "b.srt", text.encode()))
    assert cues_of(f) == [TRUTH[0], TRUTH[2]]  # the broken cues' text is not glued to their neighbours
    assert [c.index for c in f.cues] == [1, 3]
    (p,) = f.problems
    assert (p.defect, p.reason, p.details["count"]) == ("caption_malformed", "broken_timing", 3)
    assert [e["line"] for e in p.details["examples"]] == [7, 15, 19] and "0x" in p.message


@pytest.mark.parametrize("name,data,reason", [
    ("empty", b"", "empty"),
    ("blank", b"\n\n  \n", "empty"),
    ("random", np.random.default_rng(0).bytes(20000), "binary"),
    ("mp4", b"\x00\x00\x00\x18ftypmp42" + bytes(100), "not_captions"),
    ("words", b"just some words\nno timing at all\n", "unknown_format"),
    ("oneline", b"1\n00:00:01,000 --> 00:00:02,000\n" + b"A" * 3_000_000, "line_too_long"),
    ("xml", b'<?xml version="1.0"?><tt xmlns="http://www.w3.org/ns/ttml"><body><div><p begin="1s"', "unparsable"),
    ("bomb", b'<?xml version="1.0"?><!DOCTYPE tt [<!ENTITY a "aaaa">]><tt xmlns="http://www.w3.org/ns/ttml"/>',
     "xml_entities"),
    ("nocues", b"WEBVTT\n\nNOTE nothing here\n", "no_cues"),
])
def test_bad_files_are_one_bounded_finding_never_a_crash(tmp_path, name, data, reason):
    f = load(write(tmp_path, f"{name}.srt", data))
    assert f.found and f.cues == []
    assert [p.reason for p in f.problems] == [reason] and f.problems[0].defect == "caption_malformed"
    assert len(f.problems[0].message) < 200 and len(json.dumps(f.problems[0].details)) < 2000


def test_a_file_over_the_size_limit_is_not_read(tmp_path):
    p = tmp_path / "big.srt"
    with open(p, "wb") as out:
        out.truncate(MAX_FILE_BYTES + 5)  # sparse: 10 MiB of zeros
    f = load(str(p))
    assert reasons(f) == [("caption_malformed", "too_large")] and f.problems[0].details["size_bytes"] == MAX_FILE_BYTES + 5
    f = parse_bytes(b"x" * (MAX_FILE_BYTES + 1))  # a source that reports no size: the bytes read count
    assert [p.reason for p in f.problems] == ["too_large"]


def test_absent_and_unreadable_files_are_caption_missing(tmp_path):
    for uri, reason in [(str(tmp_path / "nope.srt"), "not_found"), ("file://" + str(tmp_path / "nope.srt"), "not_found"),
                        (str(tmp_path), "is_directory"), ("nosuchscheme://bucket/a.srt", "unsupported_scheme")]:
        f = load(uri)
        assert not f.found and [(p.defect, p.reason) for p in f.problems] == [("caption_missing", reason)], uri
    ok = load("file://" + write(tmp_path, "a.srt", GOOD.encode()))
    assert ok.found and cues_of(ok) == TRUTH
    if os.geteuid() != 0:  # root reads anything
        p = tmp_path / "locked.srt"
        p.write_bytes(GOOD.encode())
        p.chmod(0)
        assert [q.reason for q in load(str(p)).problems] == ["permission_denied"]


# -- checks on known cues ---------------------------------------------------------------------------

def cue(i, a, b, text="Some words here."):
    return Cue(i, a, b, text, None)


def kinds(hits):
    return [(h.details["kind"], h.details.get("cue_index")) for h in hits]


def test_timing_findings():
    cues = [cue(1, 1.0, 3.0), cue(2, 2.5, 4.0), cue(3, 4.04, 5.5), cue(4, 6.0, 6.0), cue(5, 7.0, 6.5),
            cue(6, 8.0, 8.5, "Hi."), cue(7, 9.5, 12.0), cue(8, 5.8, 5.9, "Oops.")]
    hits = checks.timing_findings(cues, duration_s=11.0, fps=25.0)
    got = sorted(kinds(hits), key=lambda k: (k[1], k[0]))
    assert got == [("overlap", 2), ("short_gap", 3), ("non_positive_duration", 4), ("non_positive_duration", 5),
                   ("too_short", 6), ("past_end", 7), ("out_of_order", 8), ("too_short", 8)]
    by = {(h.details["kind"], h.details["cue_index"]): h for h in hits}
    assert (by["overlap", 2].start_s, by["overlap", 2].end_s) == (2.5, 3.0) and by["overlap", 2].details["overlap_s"] == 0.5
    assert by["short_gap", 3].details["gap_frames"] == 1.0 and by["short_gap", 3].details["limit_frames"] == 2.0
    assert by["past_end", 7].end_s == 11.0 and by["past_end", 7].details["past_end_s"] == 1.0
    assert by["too_short", 6].details["limit_s"] == pytest.approx(0.833, abs=1e-3)
    # touching cues and two-frame gaps are fine; at 50 fps a 0.05 s gap is 2.5 frames
    clean = [cue(1, 1.0, 2.0), cue(2, 2.0, 3.0), cue(3, 3.08, 4.0), cue(4, 4.05, 5.0)]
    assert kinds(checks.timing_findings(clean, 10.0, fps=50.0)) == []
    assert kinds(checks.timing_findings(clean, 10.0, fps=25.0)) == [("short_gap", 4)]
    assert kinds(checks.timing_findings([cue(1, 1, 3), cue(2, 2, 4)], 10.0, allow_overlap=True)) == []


def test_reading_speed_findings_and_profiles():
    text = "This sentence has forty-one characters!!"  # 40 characters
    cues = [cue(1, 0.0, 2.0, text), cue(2, 3.0, 6.0, text), cue(3, 7.0, 12.0, "x" * 43),
            cue(4, 13.0, 16.0, "one\ntwo\nthree")]
    hits = checks.reading_speed_findings(cues, **{k: v for k, v in checks.PROFILES["adult"].items()})
    assert kinds(hits) == [("cps", 1), ("line_too_long", 3), ("too_many_lines", 4)]
    assert hits[0].details["cps"] == 20.0 and hits[0].details["limit_cps"] == 17.0 and hits[0].details["chars"] == 40
    streaming = checks.reading_speed_findings(cues, **checks.PROFILES["streaming"])
    assert kinds(streaming)[0] == ("line_too_long", 3)  # 20 cps is allowed there
    det = build(["caption_reading_speed"], {"caption_reading_speed": {"profile": "streaming", "max_cps": 12}})[0]
    assert det.limits == {"max_cps": 12.0, "max_line_chars": 42, "max_lines": 2}
    with pytest.raises(ValueError, match="unknown profile 'kids'"):
        REGISTRY["caption_reading_speed"](profile="kids")
    with pytest.raises(ConfigError, match="max_lines must be a positive whole number"):
        ScanConfig().merged({"detectors": {"caption_reading_speed": {"max_lines": 0}}}).build_detectors("caption_reading_speed")


def test_sound_cues():
    assert checks.is_sound_cue("[door slams]") and checks.is_sound_cue("(laughs)\n♪ la la ♪")
    assert checks.is_sound_cue("JOHN: [sighs]") and not checks.is_sound_cue("[door slams] Who is it?")


SPEECH = [(1.0, 2.5), (4.0, 6.0), (8.0, 9.0), (11.0, 13.5), (15.0, 16.0)]


def truth_cues():
    return [cue(i, a, b + 0.3, "Words") for i, (a, b) in enumerate(SPEECH, 1)]


def test_speech_mismatch_clean_offset_dropped_and_spurious():
    heard = [(0.0, 20.0)]
    clean = checks.speech_mismatch_findings(truth_cues(), SPEECH, heard, 20.0)
    assert clean == []
    assert checks.speech_coverage(SPEECH, truth_cues()) == 1.0
    for off in (-1.2, 0.6, 2.0):
        moved = checks.shifted(truth_cues(), off)
        (h,) = checks.speech_mismatch_findings(moved, SPEECH, heard, 20.0)
        assert h.details["kind"] == "offset" and h.details["offset_ms"] == pytest.approx(off * 1000, abs=1)
        assert h.details["direction"] == ("captions late" if off > 0 else "captions early")
    small = checks.shifted(truth_cues(), 0.2)  # within max_offset_ms
    assert checks.speech_mismatch_findings(small, SPEECH, heard, 20.0) == []
    dropped = [c for c in truth_cues() if c.index != 4]
    (h,) = checks.speech_mismatch_findings(dropped, SPEECH, heard, 20.0)
    assert h.details["kind"] == "speech_without_cue" and (h.start_s, h.end_s) == (11.0, 13.5)
    spurious = sorted(truth_cues() + [cue(9, 17.0, 19.0, "Nobody says this.")], key=lambda c: c.start_s)
    (h,) = checks.speech_mismatch_findings(spurious, SPEECH, heard, 20.0)
    assert h.details["kind"] == "cue_without_speech" and h.details["cue_index"] == 9 and (h.start_s, h.end_s) == (17.0, 19.0)
    sound = truth_cues() + [cue(9, 17.0, 19.0, "[thunder]")]
    assert checks.speech_mismatch_findings(sound, SPEECH, heard, 20.0) == []
    # a cue where no audio was analysed (a window that did not decode) is not judged
    assert checks.speech_mismatch_findings(spurious, SPEECH, [(0.0, 16.5)], 20.0) == []
    # a shift with the offset taken out leaves the dropped cue's speech as its own finding
    both = checks.shifted([c for c in truth_cues() if c.index != 2], 1.0)
    found = checks.speech_mismatch_findings(both, SPEECH, heard, 20.0)
    assert [h.details["kind"] for h in found] == ["offset", "speech_without_cue"] and found[1].start_s == 4.0


def test_capped_bounds_the_findings():
    events = [Hit("caption_timing", float(i), i + 0.5, 1.0, {"kind": "overlap"}) for i in range(1000)]
    out = checks.capped(events, 10, "caption_timing")
    assert len(out) == 10 and out[-1].details == {"kind": "and_more", "events": 991, "by_kind": {"overlap": 991},
                                                   "limit": 10}
    assert (out[-1].start_s, out[-1].end_s) == (9.0, 999.5)


# -- the detectors' item-level steps (what the runner calls), without decoding ------------------------------

def info(uri, duration=10.0):
    return ItemInfo(duration_s=duration, has_video=True, has_audio=True, fps=25.0, captions_uri=uri)


def finish(det, hits):
    return det.merge(hits), det.summarise(hits)


def test_caption_detectors_on_one_item(tmp_path):
    bad = GOOD.replace("00:00:07,000 --> 00:00:08,000", "00:00:07,000 --> 00:00:12,000").replace(
        "Hello there.\nSecond line.", "This first cue is far too wordy for two seconds.\nSecond line.")
    uri = write(tmp_path, "item.srt", bad.encode("cp1252"))
    dets = {d.name: d for d in build(["caption_file", "caption_timing", "caption_reading_speed", "caption_speech_mismatch"])}
    events, summary = finish(dets["caption_file"], dets["caption_file"].check_item(info(uri)))
    assert [(e.defect, e.details["reason"]) for e in events] == [("caption_malformed", "wrong_encoding")]
    assert (events[0].start_s, events[0].end_s) == (0.0, 10.0) and summary == {"caption_cues": 3}
    events, _ = finish(dets["caption_timing"], dets["caption_timing"].check_item(info(uri)))
    assert [(e.details["kind"], e.start_s, e.end_s) for e in events] == [("past_end", 7.0, 10.0)]
    events, _ = finish(dets["caption_reading_speed"], dets["caption_reading_speed"].check_item(info(uri)))
    assert [(e.details["kind"], e.details["cue_index"]) for e in events] == [("cps", 1), ("line_too_long", 1)]
    assert events[0].details["text"].startswith("This first cue")
    # speech hits from windows + the cue carrier from check_item → merged on the "driver"
    sm = dets["caption_speech_mismatch"]
    hits = sm.check_item(info(uri)) + [Hit("_speech", 1.0, 3.5, 1.0), Hit("_analysed", 0.0, 8.0, 0.0),
                                       Hit("_speech", 8.2, 9.0, 1.0), Hit("_analysed", 8.0, 10.0, 0.0)]
    events, summary = finish(sm, hits)
    assert [(e.details["kind"], e.details.get("cue_index")) for e in events] == [("cue_without_speech", 2)]
    assert summary == {"caption_speech_coverage": pytest.approx(2.8 / 3.3, abs=1e-3)}  # 3.0-3.5 s uncued
    assert all(not e.defect.startswith("_") for d in dets.values() for e in d.merge(hits))


def test_absent_captions_and_require_captions(tmp_path):
    none = ItemInfo(duration_s=10.0, has_video=True, has_audio=True)
    for name in ("caption_file", "caption_timing", "caption_reading_speed", "caption_speech_mismatch"):
        assert not REGISTRY[name]().applies_to(none), name
    strict = REGISTRY["caption_file"](require_captions=True)
    assert strict.applies_to(none)
    (e,) = strict.merge(strict.check_item(none))
    assert (e.defect, e.details["reason"]) == ("caption_missing", "not_given")
    f = REGISTRY["caption_file"]()
    events, summary = finish(f, f.check_item(info(str(tmp_path / "gone.srt"))))
    assert [(e.defect, e.details["reason"]) for e in events] == [("caption_missing", "not_found")] and summary == {}
    assert REGISTRY["caption_timing"]().check_item(info(str(tmp_path / "gone.srt"))) == []
    assert not REGISTRY["caption_speech_mismatch"]().applies_to(
        ItemInfo(duration_s=5.0, has_video=True, has_audio=False, captions_uri="x.srt"))


def test_caption_detectors_run_by_default():
    assert {"caption_file", "caption_timing", "caption_reading_speed", "caption_speech_mismatch"} <= set(parse_names(None))
