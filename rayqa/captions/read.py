"""Reading a caption sidecar: from a URI to cues, and every problem met on the way.

Nothing here raises on bad input: a file that is absent, unreadable, too big, binary, in the wrong
encoding or unparsable comes back as a :class:`CaptionFile` whose ``problems`` say why (defect
``caption_missing`` when the file could not be had, ``caption_malformed`` when its content is bad),
with whatever cues could still be read. Reading is bounded: at most :data:`MAX_FILE_BYTES` are read,
a line longer than :data:`MAX_LINE_CHARS` (megabytes of one line, binary junk) refuses the file with
one problem, and at most :data:`MAX_CUES` cues are kept.

Encodings: a UTF-8, UTF-16 or UTF-32 byte-order mark is honoured; without one the file must be
UTF-8. A file that is not is still read, as cp1252 (latin-1 where cp1252 leaves a byte undefined),
with a ``caption_malformed`` problem "wrong encoding": the timing and reading-speed checks can go on,
and the finding tells the person to re-save the file as UTF-8. UTF-16 without a byte-order mark is
recognised by its zero bytes and read the same way, with the same problem. CR LF and lone CR line
ends are accepted as they are.

Formats: SRT and WebVTT (checked line by line here, then parsed by pysubs2), TTML/IMSC (pysubs2's
TTML reader; no DTDs or entity declarations) and ASS/SSA (pysubs2).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

MAX_FILE_BYTES = 10 << 20  # 10 MiB: a feature film's SRT is ~100 KB
MAX_LINE_CHARS = 2000  # a caption line is < 100 characters; TTML (often one line of XML) is exempt
MAX_CUES = 20000  # a 3-hour film has ~3,000
MAX_LISTED = 20  # problem details list at most this many examples
TEXT_PREVIEW = 80  # characters of a cue or line quoted in evidence

MISSING = "caption_missing"
MALFORMED = "caption_malformed"


@dataclass(frozen=True)
class Cue:
    """One caption event: ``index`` is its 1-based position in the file, ``line`` the line number
    of its timing line (SRT/WebVTT; None for other formats), ``text`` the plain text with one
    ``\\n`` between lines (formatting tags removed)."""

    index: int
    start_s: float
    end_s: float
    text: str
    line: int | None = None

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n") if self.text else []

    @property
    def chars(self) -> int:
        """Characters a viewer reads: every character of the text except the line breaks."""
        return sum(len(line) for line in self.lines)


@dataclass
class Problem:
    """Why a caption file could not be had (``caption_missing``) or is bad (``caption_malformed``):
    ``reason`` is a short key (``not_found``, ``wrong_encoding``, ``broken_timing``...), ``message``
    one line for a person, ``details`` the evidence."""

    defect: str
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class CaptionFile:
    uri: str
    format: str | None = None  # "srt", "vtt", "ttml", "ass", "ssa"
    encoding: str | None = None
    size_bytes: int | None = None
    cues: list[Cue] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    found: bool = True  # False: the file could not be had at all (caption_missing)

    @property
    def readable(self) -> bool:
        """Whether cues could be read (the other checks have something to check)."""
        return self.found and bool(self.cues)


def preview(text: str, n: int = TEXT_PREVIEW) -> str:
    text = text.replace("\n", " / ")
    return text if len(text) <= n else text[: n - 1] + "…"


# -- reading bytes ---------------------------------------------------------------------------------

class _Unavailable(Exception):
    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason, self.message = reason, message


def read_bytes(uri: str, limit: int = MAX_FILE_BYTES) -> tuple[bytes, int | None]:
    """At most ``limit + 1`` bytes of ``uri`` (local path, ``file://``, ``http(s)://`` or a pyarrow
    filesystem URI such as ``s3://``) and the size the source reports (None if unknown). Raises
    :class:`_Unavailable` saying why the file cannot be had."""
    parsed = urlparse(uri)
    scheme = parsed.scheme if len(parsed.scheme) > 1 else ""  # "C:\..." is a path
    try:
        if scheme in ("", "file"):
            path = Path(parsed.path if scheme == "file" else uri)
            if not path.exists():
                raise _Unavailable("not_found", f"caption file not found: {path}")
            if path.is_dir():
                raise _Unavailable("is_directory", f"caption path is a directory, not a file: {path}")
            size = path.stat().st_size
            with open(path, "rb") as f:
                return f.read(limit + 1), size
        if scheme in ("http", "https"):
            import urllib.error
            import urllib.request

            try:
                with urllib.request.urlopen(uri, timeout=30) as r:
                    length = r.headers.get("Content-Length")
                    return r.read(limit + 1), int(length) if length and length.isdigit() else None
            except urllib.error.HTTPError as e:
                raise _Unavailable("not_found" if e.code == 404 else "unreadable",
                                   f"caption file could not be fetched: HTTP {e.code}") from None
        try:
            import pyarrow.fs as pafs

            fs, path = pafs.FileSystem.from_uri(uri)
        except Exception as e:
            raise _Unavailable("unsupported_scheme", f"caption URI scheme {scheme!r} is not supported "
                                                     f"(local paths, file://, http(s):// and pyarrow filesystems are): "
                                                     f"{_one_line(e)}") from None
        info = fs.get_file_info(path)
        if info.type.name == "NotFound":
            raise _Unavailable("not_found", f"caption file not found: {uri}")
        if info.type.name == "Directory":
            raise _Unavailable("is_directory", f"caption path is a directory, not a file: {uri}")
        with fs.open_input_stream(path) as f:
            return f.read(limit + 1), info.size
    except _Unavailable:
        raise
    except FileNotFoundError:
        raise _Unavailable("not_found", f"caption file not found: {uri}") from None
    except PermissionError:
        raise _Unavailable("permission_denied", f"caption file cannot be read: permission denied: {uri}") from None
    except Exception as e:  # I/O errors, network errors, exotic filesystems: the reason, never a crash
        raise _Unavailable("unreadable", f"caption file cannot be read: {type(e).__name__}: {_one_line(e)}") from None


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return re.sub(r"\[Errno -?\d+\]\s*", "", text[0]) if text else type(e).__name__


# -- bytes to text -----------------------------------------------------------------------------------

_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "utf-32-le", "UTF-32 LE"), (b"\x00\x00\xfe\xff", "utf-32-be", "UTF-32 BE"),
    (b"\xef\xbb\xbf", "utf-8", "UTF-8"), (b"\xff\xfe", "utf-16-le", "UTF-16 LE"), (b"\xfe\xff", "utf-16-be", "UTF-16 BE"),
)

# Files that are media, archives or documents, not captions (a wrong column in the manifest).
_SIGNATURES = (
    ("an MP4/MOV media file", lambda b: b[4:8] in (b"ftyp", b"moov", b"mdat", b"free", b"wide")),
    ("a Matroska/WebM media file", lambda b: b[:4] == b"\x1a\x45\xdf\xa3"),
    ("a RIFF (WAV/AVI) media file", lambda b: b[:4] == b"RIFF"),
    ("an MPEG-TS media file", lambda b: len(b) > 376 and b[0] == 0x47 and b[188] == 0x47 and b[376] == 0x47),
    ("an Ogg media file", lambda b: b[:4] == b"OggS"),
    ("an MP3 file", lambda b: b[:3] == b"ID3"),
    ("a ZIP archive (or a DOCX/XLSX document)", lambda b: b[:4] == b"PK\x03\x04"),
    ("a gzip archive", lambda b: b[:2] == b"\x1f\x8b"),
    ("a PDF document", lambda b: b[:5] == b"%PDF-"),
    ("a PNG image", lambda b: b[:8] == b"\x89PNG\r\n\x1a\n"),
    ("a JPEG image", lambda b: b[:3] == b"\xff\xd8\xff"),
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class _NotText(Exception):
    def __init__(self, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.reason, self.message, self.details = reason, message, details or {}


def decode(data: bytes) -> tuple[str, str, list[Problem]]:
    """The text of a caption file, the encoding it was read with, and a ``wrong_encoding`` problem
    when it was not UTF-8 (or UTF-16/32 with a byte-order mark). Raises :class:`_NotText` for binary
    data."""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec), label + " with BOM", []
            except UnicodeDecodeError as e:
                raise _NotText("undecodable", f"not valid {label} text after its byte-order mark "
                                              f"(bad bytes at offset {e.start + len(bom)})") from None
    head = data[:65536]
    kind = next((name for name, test in _SIGNATURES if test(head)), None)
    if kind is not None:
        raise _NotText("not_captions", f"not a caption file: it is {kind}")
    problems: list[Problem] = []
    zeros = head.count(0)
    if zeros:
        # UTF-16 without a byte-order mark: ASCII text has a zero in every other byte.
        even, odd = head[0::2].count(0), head[1::2].count(0)
        if len(head) >= 4 and zeros >= 0.3 * len(head) and max(even, odd) >= 0.9 * zeros:
            codec = "utf-16-le" if odd > even else "utf-16-be"
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                text = None
            if text is not None and not _CONTROL.search(text[:65536]):
                problems.append(Problem(MALFORMED, "wrong_encoding",
                                        f"wrong encoding: {codec.upper()} without a byte-order mark (read as {codec.upper()}); "
                                        "save it as UTF-8", {"encoding_read": codec}))
                return text, codec.upper() + " without BOM", problems
        raise _NotText("binary", f"not a caption file: binary data ({zeros} zero bytes in the first {len(head)})")
    try:
        text, encoding = data.decode("utf-8"), "UTF-8"
    except UnicodeDecodeError as e:
        bad = data[e.start:e.start + 4]
        try:
            text, encoding = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            text, encoding = data.decode("latin-1"), "latin-1"
        line = data.count(b"\n", 0, e.start) + 1
        problems.append(Problem(MALFORMED, "wrong_encoding",
                                f"wrong encoding: not UTF-8 (first invalid byte {bad[:1].hex()} at offset {e.start}, "
                                f"line {line}); read as {encoding}, save it as UTF-8",
                                {"encoding_read": encoding, "byte_offset": e.start, "line": line,
                                 "bytes": bad.hex()}))
    controls = len(_CONTROL.findall(text[:65536]))
    if controls > max(2, 0.005 * min(len(text), 65536)):
        raise _NotText("binary", f"not a caption file: binary data ({controls} control characters in the first "
                                 f"{min(len(text), 65536)} characters)")
    return text, encoding, problems


# -- text to cues -----------------------------------------------------------------------------------

_SRT_TIMING = re.compile(r"^\s*(\d{1,2}):([0-5]?\d):([0-5]?\d)[,.](\d{1,3})\s*-->\s*"
                         r"(\d{1,2}):([0-5]?\d):([0-5]?\d)[,.](\d{1,3})(?:\s+\S.*)?\s*$")
_VTT_TIMING = re.compile(r"^\s*(?:(\d{1,4}):)?([0-5]\d):([0-5]\d)\.(\d{3})\s+-->\s+"
                         r"(?:(\d{1,4}):)?([0-5]\d):([0-5]\d)\.(\d{3})(?:\s+\S.*)?\s*$")
_LOOKS_TIMED = re.compile(r"-->|^\s*\d+:\d+")


def detect_format(text: str) -> str | None:
    head = text.lstrip()[:4096]
    if head.startswith("WEBVTT"):
        return "vtt"
    if head.startswith("<") and re.search(r"<(\w+:)?tt[\s>]", text[:65536]):
        return "ttml"
    if "[Script Info]" in head or "[V4+ Styles]" in head or "[V4 Styles]" in head:
        return "ass"
    if "-->" in text:
        return "srt"
    return None


def _blocks(lines: list[str]) -> list[tuple[int, list[str]]]:
    """Runs of non-blank lines with the 1-based number of their first line."""
    out, cur, first = [], [], 0
    for no, line in enumerate(lines, 1):
        if line.strip():
            if not cur:
                first = no
            cur.append(line)
        elif cur:
            out.append((first, cur))
            cur = []
    if cur:
        out.append((first, cur))
    return out


def _check_timed_text(text: str, fmt: str) -> tuple[str, list[tuple[int, int]], list[Problem]]:
    """SRT/WebVTT checked block by block: the text with only well-formed cues (what pysubs2 then
    parses), each kept cue's (position among the file's cues, timing-line number), and the problems. A cue whose timing line is broken
    is left out (pysubs2 would glue its text to the cue before)."""
    lines = text.split("\n")
    timing = _SRT_TIMING if fmt == "srt" else _VTT_TIMING
    blocks = _blocks(lines)
    kept: list[str] = []
    timing_lines: list[tuple[int, int]] = []
    broken: list[dict] = []
    ordinal = 0
    stray: list[dict] = []
    problems: list[Problem] = []
    if fmt == "vtt":
        head = blocks.pop(0) if blocks else (1, [""])
        if not re.match(r"^WEBVTT(?:[ \t].*)?$", head[1][0].strip()):
            problems.append(Problem(MALFORMED, "bad_header", f"WebVTT header line is {preview(head[1][0], 40)!r}, "
                                                             "expected 'WEBVTT'", {"line": head[0]}))
        kept.append("WEBVTT")
    for first, block in blocks:
        if fmt == "vtt" and re.match(r"^(NOTE|STYLE|REGION)(\s|$)", block[0]):
            continue
        at = 0
        if fmt == "srt" and re.fullmatch(r"\s*\d+\s*", block[0]) and len(block) > 1:
            at = 1  # the cue number
        elif fmt == "vtt" and "-->" not in block[0] and len(block) > 1:
            at = 1  # a cue identifier
        candidate = block[at]
        if timing.match(candidate):
            ordinal += 1
            kept.append("\n".join(block))
            timing_lines.append((ordinal, first + at))
        elif _LOOKS_TIMED.search(candidate) or (fmt == "srt" and at == 1):
            ordinal += 1
            broken.append({"cue_index": ordinal, "line": first + at, "text": preview(candidate, 60)})
        else:  # a cue's text after a blank line, or junk between cues
            stray.append({"line": first, "text": preview(block[0], 60)})
    if broken:
        ex = broken[0]
        problems.append(Problem(
            MALFORMED, "broken_timing",
            f"{len(broken)} cue(s) with a broken timing line, left out (first at line {ex['line']}: {ex['text']!r})",
            {"count": len(broken), "examples": broken[:MAX_LISTED]}))
    if stray:
        ex = stray[0]
        problems.append(Problem(
            MALFORMED, "text_without_timing",
            f"{len(stray)} block(s) of text outside any cue, left out (first at line {ex['line']}: {ex['text']!r})",
            {"count": len(stray), "examples": stray[:MAX_LISTED]}))
    return "\n\n".join(kept) + "\n", timing_lines, problems


def parse_text(text: str) -> tuple[str | None, list[Cue], list[Problem]]:
    """Cues from caption text (format detected from the content), and the problems found."""
    import pysubs2

    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not text.strip():
        return None, [], [Problem(MALFORMED, "empty", "caption file holds no text")]
    fmt = detect_format(text)
    if fmt != "ttml":  # TTML is XML, often all on one line
        longest, where = 0, 0
        for no, line in enumerate(text.split("\n"), 1):
            if len(line) > longest:
                longest, where = len(line), no
        if longest > MAX_LINE_CHARS:
            return fmt, [], [Problem(MALFORMED, "line_too_long",
                                     f"not a caption file: line {where} is {longest:,} characters long "
                                     f"(limit {MAX_LINE_CHARS:,}); nothing read",
                                     {"line": where, "line_chars": longest, "limit_chars": MAX_LINE_CHARS})]
    if fmt is None:
        return None, [], [Problem(MALFORMED, "unknown_format",
                                  "not a caption file: no SRT, WebVTT, TTML or ASS structure found "
                                  f"(it begins {preview(text.lstrip(), 40)!r})")]
    problems: list[Problem] = []
    timing_lines: list[tuple[int, int]] = []
    try:
        if fmt in ("srt", "vtt"):
            text, timing_lines, problems = _check_timed_text(text, fmt)
        elif fmt == "ttml" and re.search(r"<!(DOCTYPE|ENTITY)", text[:65536]):
            return fmt, [], [Problem(MALFORMED, "xml_entities",
                                     "TTML with a DOCTYPE or entity declarations is refused (XML entity expansion)")]
        subs = pysubs2.SSAFile.from_string(text, format_=fmt)
    except Exception as e:  # the library's own errors (XML syntax, time expressions) and anything else
        return fmt, [], problems + [Problem(MALFORMED, "unparsable", f"cannot parse as {fmt.upper()}: "
                                                                     f"{type(e).__name__}: {_one_line(e)}")]
    if subs.format is not None and fmt in ("ass", "ssa"):
        fmt = subs.format
    events = [e for e in subs if not e.is_comment]
    if len(events) > MAX_CUES:
        problems.append(Problem(MALFORMED, "too_many_cues",
                                f"{len(events):,} cues, over the limit of {MAX_CUES:,}: only the first {MAX_CUES:,} "
                                "are checked", {"cues": len(events), "limit": MAX_CUES}))
        events = events[:MAX_CUES]
    where = timing_lines if len(timing_lines) == len(subs) else [(i, None) for i in range(1, len(subs) + 1)]
    cues = [Cue(index, e.start / 1000.0, e.end / 1000.0, _plain(e.plaintext), line)
            for (index, line), e in zip(where, events)]
    if not cues:
        problems.append(Problem(MALFORMED, "no_cues", f"{fmt.upper()} file holds no cues"))
    return fmt, cues, problems


def _plain(text: str) -> str:
    lines = [re.sub(r"\s+", " ", line).strip() for line in text.replace("\u200b", "").split("\n")]
    return "\n".join(line for line in lines if line)


def parse_bytes(data: bytes, uri: str = "", size_bytes: int | None = None) -> CaptionFile:
    """A caption file from its bytes (at most :data:`MAX_FILE_BYTES` of them are looked at)."""
    size = size_bytes if size_bytes is not None else len(data)
    out = CaptionFile(uri, size_bytes=size)
    if size > MAX_FILE_BYTES or len(data) > MAX_FILE_BYTES:
        out.problems.append(Problem(MALFORMED, "too_large",
                                    f"caption file is {size / (1 << 20):.1f} MiB, over the limit of "
                                    f"{MAX_FILE_BYTES / (1 << 20):.0f} MiB; not read",
                                    {"size_bytes": size, "limit_bytes": MAX_FILE_BYTES}))
        return out
    if not data:
        out.problems.append(Problem(MALFORMED, "empty", "caption file is empty (0 bytes)"))
        return out
    try:
        text, out.encoding, problems = decode(data)
    except _NotText as e:
        out.problems.append(Problem(MALFORMED, e.reason, e.message, e.details))
        return out
    out.problems.extend(problems)
    out.format, out.cues, problems = parse_text(text)
    out.problems.extend(problems)
    return out


# Parsed files by (uri, size, mtime): the caption detectors of one item each read the same file.
_CACHE: OrderedDict[tuple, CaptionFile] = OrderedDict()
_CACHE_SIZE = 16
_LOCK = threading.Lock()


def _stamp(uri: str) -> tuple | None:
    parsed = urlparse(uri)
    if len(parsed.scheme) > 1 and parsed.scheme != "file":
        return None
    try:
        st = Path(parsed.path if parsed.scheme == "file" else uri).stat()
        return uri, st.st_size, st.st_mtime_ns, st.st_ino
    except OSError:
        return None


def load(uri: str) -> CaptionFile:
    """The caption file at ``uri``: its cues and problems; never raises for bad input."""
    key = _stamp(uri)
    if key is not None:
        with _LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
    try:
        data, size = read_bytes(uri)
    except _Unavailable as e:
        return CaptionFile(uri, found=False, problems=[Problem(MISSING, e.reason, e.message, {"captions_uri": uri})])
    out = parse_bytes(data, uri, size)
    if key is not None:
        with _LOCK:
            _CACHE[key] = out
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
    return out
