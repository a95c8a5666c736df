"""Find a paper's code, model or project page link in its abstract (and arXiv comment, where known) (pure).

Owns which URLs count and which one a reader sees: a GitHub (or GitLab, Codeberg, Bitbucket) repository
first, then a Hugging Face model, dataset or Space, then an anonymous review repository, then a project
page (`*.github.io`, `sites.google.com`, or any URL the text calls a "project page" or "website"). It
must not fetch anything: a link is only reported as written, normalised to https without trailing
punctuation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A URL as written in an abstract: with or without a scheme, possibly inside \url{...} or \href{...}{...}.
_URL = re.compile(
    r"(?:https?://|(?<![\w@./-])(?=(?:www\.)?(?:github\.com|gitlab\.com|huggingface\.co|codeberg\.org|"
    r"bitbucket\.org|[\w-]+\.github\.io|sites\.google\.com)\b))"
    r"[^\s<>\"'{}\\|^`\[\]]+",
    re.IGNORECASE,
)
_TRAILING = ".,;:!?)]}>'\"*"
_REPO_HOSTS = ("github.com", "gitlab.com", "codeberg.org", "bitbucket.org")
# Paths on a repository host that are not a repository.
_NOT_REPO = {"features", "about", "pricing", "topics", "orgs", "sponsors", "marketplace", "explore", "settings"}
_HF_KINDS = {"datasets", "spaces", "collections"}
_HF_NOT_MODEL = {"docs", "blog", "papers", "learn", "models", "tasks", "join", "pricing"}
# Words just before a URL that make it the paper's own page: "Project page:", "Code: ", "available at".
_PROJECT_WORDS = re.compile(
    r"((project|home|web)\s*(page|site)|website|demo|page|code|codes|implementation|weights|models?|"
    r"(available|released|hosted|found|accessed|public)\s+(at|on|in|from|under)|refer\s+to|\bat|\bvia|visit|:)"
    r"\s*:?\s*\(?$",
    re.IGNORECASE,
)
# Hosts that are never a paper's code or page: references, videos, link shorteners.
_NOT_PAGE = ("doi.org", "dx.doi.org", "arxiv.org", "youtu.be", "youtube.com", "bit.ly", "tinyurl.com",
             "twitter.com", "x.com", "creativecommons.org")
# "github. com/x/y": a line break in the source PDF leaves a space after the dot.
_SPLIT_HOST = re.compile(r"\b(github|gitlab|huggingface|codeberg)\.\s+(com|co|org)/", re.IGNORECASE)

KINDS = ("code", "model", "project")


@dataclass(frozen=True, slots=True)
class CodeLink:
    """One link a reader can follow: `kind` is "code" (a repository), "model" (Hugging Face) or "project"."""

    url: str
    kind: str


def _clean(raw: str) -> str:
    url = raw
    # `\href{url}{text}` leaves "url}{text}" after the match stops at "}"; `(url)` leaves a ")" to strip.
    while url and url[-1] in _TRAILING:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    if not re.match(r"https?://", url, re.IGNORECASE):
        url = "https://" + url
    return re.sub(r"^http://", "https://", url, flags=re.IGNORECASE)


def _host_and_path(url: str) -> tuple[str, list[str]]:
    rest = re.sub(r"^https?://", "", url, flags=re.IGNORECASE)
    host, _, path = rest.partition("/")
    host = host.lower().removeprefix("www.")
    path = path.split("?", 1)[0].split("#", 1)[0]
    return host, [p for p in path.split("/") if p]


def classify(url: str, context: str = "") -> CodeLink | None:
    """What kind of link `url` is (a repository, a Hugging Face page, a project page), or None."""
    host, parts = _host_and_path(url)
    if host in _REPO_HOSTS or host == "gitcode.com":
        if len(parts) >= 2 and parts[0].lower() not in _NOT_REPO:
            repo = parts[1].removesuffix(".git")
            return CodeLink(f"https://{host}/{parts[0]}/{repo}", "code")
        if len(parts) == 1 and parts[0].lower() not in _NOT_REPO:  # an organisation's page of repositories
            return CodeLink(f"https://{host}/{parts[0]}", "code")
        return None
    if host.endswith(".hf.space"):
        return CodeLink(url.rstrip("/"), "model")
    if host == "huggingface.co":
        if len(parts) >= 3 and parts[0].lower() in _HF_KINDS:
            return CodeLink(f"https://huggingface.co/{parts[0]}/{parts[1]}/{parts[2]}", "model")
        if len(parts) >= 2 and parts[0].lower() in _HF_KINDS:  # a user's or organisation's datasets or Spaces
            return CodeLink(f"https://huggingface.co/{parts[0]}/{parts[1]}", "model")
        if parts and parts[0].lower() not in _HF_NOT_MODEL | _HF_KINDS:  # a model, or an organisation's models
            return CodeLink("https://huggingface.co/" + "/".join(parts[:2]), "model")
        return None
    if host == "anonymous.4open.science" and len(parts) >= 2:
        return CodeLink(url.rstrip("/"), "code")
    if host in _NOT_PAGE or host.endswith((".arxiv.org", ".doi.org")) or "." not in host:
        return None
    if host.endswith(".github.io") or host == "sites.google.com" or _PROJECT_WORDS.search(context):
        return CodeLink(url.rstrip("/"), "project")
    return None


def find_links(*texts: str) -> list[CodeLink]:
    """Every code, model and project link in `texts`, best first (code, model, project), each once."""
    found: list[CodeLink] = []
    for text in texts:
        text = _SPLIT_HOST.sub(r"\1.\2/", text or "")
        for match in _URL.finditer(text):
            context = text[max(0, match.start() - 40):match.start()]
            link = classify(_clean(match.group(0)), context)
            if link is not None and all(link.url.lower() != f.url.lower() for f in found):
                found.append(link)
    return sorted(found, key=lambda link: KINDS.index(link.kind))


def find_code_link(abstract: str, comment: str = "") -> str:
    """The one link a digest shows beside a paper (see find_links for the order), or ""."""
    links = find_links(abstract, comment)
    return links[0].url if links else ""


_LABELS = {"github.com": "GitHub", "gitlab.com": "GitLab", "codeberg.org": "Codeberg", "bitbucket.org": "Bitbucket",
           "huggingface.co": "Hugging Face", "anonymous.4open.science": "Code (anonymous)", "gitcode.com": "GitCode",
           "zenodo.org": "Zenodo", "kaggle.com": "Kaggle"}


def link_label(url: str) -> str:
    """A short label for a code link: the host's name ("GitHub", "Hugging Face"), else "Project page"."""
    host, _ = _host_and_path(url)
    if host.endswith(".hf.space"):
        return "Hugging Face"
    return _LABELS.get(host, "Project page")
