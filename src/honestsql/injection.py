"""Text from the database is data, never instructions: normalization, detection and escaping.

Sample values, column comments and descriptions reach the model's prompt, so an attacker who can
write a row can try to talk to the model. Three defences: text is normalized before it is judged
(NFKC folds full-width and compatibility forms; zero-width, bidi and soft-hyphen characters that
split words for a human reader but not for a model are removed), text that reads like an
instruction to a model is withheld and reported, and what is shown is escaped so that it cannot
close or open the prompt's ``<data>`` block. ``honestsql bench injection`` measures detection.
"""

from __future__ import annotations

import json
import re
import unicodedata

#: Characters that change nothing a model reads but hide words from a pattern.
_INVISIBLE = re.compile(
    "[\u00ad\u034f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)

_TARGETS = (
    r"(instructions?|directions?|directives?|rules?|guidelines?|prompts?|context|orders?|"
    r"commands?|constraints?|guardrails?|programming|messages?|system|everything|all)"
)
_PATTERNS = [
    # "ignore / disregard / forget ... previous instructions", with words in between
    r"\b(ignore|disregard|forget|skip|override|bypass|drop|abandon|discard|set aside)\b"
    r"[^.!?\n]{0,40}\b" + _TARGETS + r"\b",
    r"\b(do not|don't|dont|stop|no longer)\s+(follow|obey|apply|use)\b[^.!?\n]{0,30}\b" + _TARGETS,
    r"\byou\s+(are|will)\s+now\b",
    r"\b(act|behave|respond)\s+as\s+(if|an?|the)\b",
    r"\bpretend\s+(to\s+be|you)\b",
    r"\bfrom\s+now\s+on\b",
    r"\bnew\s+(instructions?|rules?|task|directive)s?\b",
    r"\b(system|developer)\s+(prompt|message|override|update|rules?|instructions?)\b",
    r"(^|\n|\s)(system|assistant|user|developer)\s*:",
    r"</?\s*(data|system|instructions?|prompt|im_start|im_end|assistant|user)\b",
    r"<\|[a-z_]+\|>|\[/?inst\]|###\s*(instruction|system|response)",
    r"\b(reply|respond|answer|output|return|write|print|say)\b[^.!?\n]{0,25}"
    r"\b(drop|delete|truncate|update|insert|grant|alter)\b",
    r"\b(instead|rather)\b[^.!?\n]{0,20}\b(output|respond|answer|write|reply|return|say)\b",
    r"\b(reveal|print|show|repeat|leak)\b[^.!?\n]{0,20}\b(system\s+prompt|your\s+(instructions|prompt|rules))",
    r"\b(drop|truncate)\s+table\b|\bdelete\s+from\b|;\s*--",
    # other languages
    r"\bignor\w*\b[^.!?\n]{0,40}\b(anweisungen|instruktionen|regeln|vorgaben)\b",
    r"\b(vergiss|missachte)\w*\b[^.!?\n]{0,40}\b(anweisungen|regeln)\b",
    r"\bignor\w*\b[^.!?\n]{0,40}\b(instructions?|consignes|règles|directives)\b",
    r"\boubliez?\b[^.!?\n]{0,40}\b(instructions|consignes|règles)\b",
    r"\bignor\w*\b[^.!?\n]{0,40}\b(instrucciones|reglas|indicaciones|istruzioni|regole|"
    r"instruções|regras|instructies|regels)\b",
    r"\b(olvida|dimentica|esqueça|esqueca|negeer|vergeet)\w*\b[^.!?\n]{0,40}"
    r"\b(instrucciones|istruzioni|instruções|instrucoes|instructies|reglas|regole)\b",
    r"\b(игнорир|забудь|не\s+следуй)\w*[^.!?\n]{0,40}(инструкци|правил|указани)",
    r"(忽略|无视|忘记|忘掉|不要理会|忽視|無視)[^。！？\n]{0,20}(指令|指示|说明|規則|规则|提示|命令|설명)",
    r"(指示|命令|ルール|プロンプト)[^。！？\n]{0,10}(を)?(無視|忘れ)",
    r"(지시|명령|규칙|지침)[^.!?\n]{0,10}(을|를)?\s*(무시|잊)",
    r"(تجاهل|انس)[^.!?\n]{0,30}(التعليمات|الأوامر|القواعد)",
    r"(अनदेखा|नज़रअंदाज़|भूल)[^.!?\n]{0,30}(निर्देश|नियम)|(निर्देश|नियम)[^.!?\n]{0,30}(अनदेखा|नज़रअंदाज़)",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)


def normalize(text: str) -> str:
    """The form of ``text`` a pattern is matched against: NFKC, invisible characters removed,
    white space folded, lower case."""
    folded = unicodedata.normalize("NFKC", text)
    folded = _INVISIBLE.sub("", folded)
    return " ".join(folded.split()).casefold()


def looks_like_instructions(text: str) -> bool:
    """Whether ``text`` (a value, comment or description) reads like an instruction to a model."""
    return bool(_INSTRUCTION.search(normalize(text)))


def data_json(values: object) -> str:
    """JSON for the ``<data>`` block that cannot close or open a tag: ``<``, ``>`` and ``&`` are
    written as ``\\u`` escapes (``json.dumps`` leaves them as they are)."""
    text = json.dumps(values, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def inline_note(text: str) -> str:
    """A comment or description as one line of the prompt's DDL, with no tag characters."""
    return " ".join(_INVISIBLE.sub("", text).split()).replace("<", "‹").replace(">", "›")
