"""Write ``data/sample/paraphrases.csv``: paraphrases of the sample dev and test dialogues.

The ``paraphrase`` test-time augmenter reads precomputed paraphrases from a table (``fname,dialogue``).
The sample data is built from recurring sentences, so a hand-written paraphrase of each recurring
turn (below) rewrites almost every sample dialogue; a dialogue without such a turn gets no row and
simply has no paraphrase variant. ``recipes/full.toml`` uses the table; for the competition data,
point ``augmenters.paraphrase.table`` at paraphrases of those dialogues instead.

    python tools/make_sample_paraphrases.py     # rewrites data/sample/paraphrases.csv byte for byte
"""

from __future__ import annotations

import csv
import io
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLE = HERE.parent / "data" / "sample"
OUT = SAMPLE / "paraphrases.csv"
TURN = re.compile(r"^(#[A-Za-z][A-Za-z0-9]*#: )(.*)$")

#: A recurring turn of the sample dialogues -> a paraphrase with the same meaning and register.
PARAPHRASES: dict[str, str] = {
    "어서 오세요. 찾으시는 거 있으세요?": "안녕하세요. 어떤 물건을 찾고 계세요?",
    "안녕하세요, 도와드릴까요?": "안녕하세요, 뭘 도와드릴까요?",
    "이거 얼마예요?": "이건 가격이 어떻게 돼요?",
    "생각보다 비싸네요. 조금 더 둘러보고 올게요.": "예상보다 값이 나가네요. 다른 데도 좀 보고 올게요.",
    "네, 천천히 보세요.": "네, 편하게 둘러보세요.",
    "좋네요. 이걸로 살게요. 카드 되죠?": "마음에 들어요. 이거 살게요. 카드 결제 되죠?",
    "물론이죠. 봉투에 담아 드릴게요.": "그럼요. 봉투에 넣어 드릴게요.",
    "좋아. 뭐 볼 건데?": "그래. 어떤 거 보려고?",
    "요즘 인기 있는 액션 영화 어때?": "요새 잘나가는 액션 영화는 어때?",
    "괜찮네. 몇 시에 만날까?": "좋다. 몇 시에 볼까?",
    "알았어, 늦지 마.": "그래, 늦으면 안 돼.",
    "여보세요?": "네, 전화 받았습니다.",
    "지금 자리에 없어요. 메시지 남기시겠어요?": "지금 안 계세요. 전하실 말씀 있으세요?",
    "알겠습니다. 전화번호도 남기시겠어요?": "네. 연락받으실 번호도 알려 주시겠어요?",
    "#PhoneNumber#로 연락 달라고 해 주세요.": "#PhoneNumber#로 전화 부탁한다고 전해 주세요.",
    "꼭 전해 드릴게요.": "잊지 않고 전달할게요.",
    "어떻게 생겼나요?": "생김새가 어떤가요?",
    "잠시만요, 확인해 볼게요.": "잠깐만 기다리세요, 찾아볼게요.",
    "다행이다! 정말 감사합니다.": "정말 다행이에요! 너무 고맙습니다.",
    "어서 오세요. 마케팅 담당자 자리에 지원하셨죠?": "반갑습니다. 마케팅 담당자로 지원하신 분 맞으시죠?",
    "네, 맞습니다.": "네, 그렇습니다.",
    "이 분야 경력이 얼마나 되세요?": "이 일을 얼마나 해 오셨어요?",
    "본인의 장점은 뭐라고 생각하세요?": "스스로 생각하는 강점은 무엇인가요?",
    "제 장점은 문제 해결 능력입니다.": "저는 문제를 잘 해결하는 편입니다.",
    "언제부터 일할 수 있나요?": "근무는 언제부터 가능하세요?",
    "다음 주부터 가능합니다.": "다음 주부터 일할 수 있습니다.",
    "위치가 어디예요?": "어디에 있어요?",
    "#Address#예요. 역에서 가까워요.": "#Address#에 있어요. 역이랑 가까워요.",
    "아쉽네요. 다른 곳을 알아볼게요.": "아쉬워요. 다른 데를 찾아볼게요.",
    "광고 보고 전화드렸어요. 오피스텔 아직 있나요?": "광고를 보고 연락드렸는데요. 오피스텔 아직 나가지 않았나요?",
    "네, 가능해요.": "네, 돼요.",
    "그럼 내일 집을 보러 갈게요.": "그러면 내일 집 보러 갈게요.",
    "이번 휴가 때 뭐 해?": "이번 휴가에 뭐 할 거야?",
    "좋겠다! 어떻게 가?": "부럽다! 뭐 타고 가?",
    "가서 뭐 할 거야?": "거기서 뭐 하려고?",
    "재미있게 다녀와. 사진 보여 줘.": "즐겁게 놀다 와. 사진 꼭 보여 줘.",
    "알아. 너무 어려워서 막막해.": "응. 너무 어려워서 어디서부터 할지 모르겠어.",
    "그거 화요일까지잖아.": "그거 마감이 화요일이잖아.",
    "오늘 방과 후에 도서관에서 같이 하자.": "오늘 수업 끝나고 도서관에서 같이 하자.",
    "오늘 방과 후에 학교 스터디룸에서 같이 하자.": "오늘 수업 끝나고 학교 스터디룸에서 같이 하자.",
    "고마워. 그럼 거기서 보자.": "고마워. 그럼 거기서 만나.",
    "무엇으로 드릴까요?": "뭘로 주문하시겠어요?",
    "조금 맵지만 괜찮으실 거예요. 음료는요?": "약간 맵긴 한데 드실 만할 거예요. 마실 건요?",
    "알겠습니다. 금방 준비해 드릴게요.": "네. 곧 준비해 드리겠습니다.",
    "안녕하세요, 방을 예약하고 싶은데요.": "안녕하세요, 객실 예약을 하려고요.",
    "네, 언제 오시나요?": "네, 언제 묵으실 건가요?",
    "좋아요. 그걸로 할게요.": "네, 그걸로 정할게요.",
    "연락처를 알려 주시겠어요?": "연락처 좀 알려 주실래요?",
    "#PhoneNumber#입니다.": "제 번호는 #PhoneNumber#예요.",
    "좋아. 나는 장소를 꾸밀게.": "그래. 장소 꾸미는 건 내가 할게.",
    "당연하지.": "물론이지.",
    "정말? 그럼 야구 경기 관람은 힘들겠다.": "진짜? 그러면 야구 경기 보러 가기는 어렵겠다.",
    "응, 대신 뭐 할까?": "응, 그럼 뭐 하지?",
    "좋아, 그렇게 하자.": "그래, 그러자.",
    "이 길로 한 블록 쭉 가세요.": "이 길을 따라 한 블록 곧장 가세요.",
    "그다음에는요?": "그러고 나서는요?",
    "사거리에서 오른쪽으로 돌면 바로 보여요.": "사거리에서 우회전하시면 금방 보여요.",
    "걸어서 얼마나 걸려요?": "걸어가면 시간이 얼마나 걸려요?",
    "감사합니다, 많은 도움이 됐어요.": "고맙습니다, 정말 도움이 많이 됐어요.",
    "어디가 불편해서 오셨어요?": "어디가 안 좋아서 오셨어요?",
    "오늘은 어디가 아프세요?": "오늘은 어디가 불편하세요?",
    "언제부터 그러셨어요?": "그런 지 얼마나 되셨어요?",
    "일주일 전부터요. 잠도 잘 못 자요.": "일주일쯤 됐어요. 잠도 제대로 못 자요.",
    "다른 증상은 없으세요?": "그 밖에 다른 증상은요?",
    "특별히 없어요.": "딱히 없어요.",
    "약을 처방해 드릴게요. 하루 세 번 드세요.": "약을 처방해 드리겠습니다. 하루에 세 번 드시면 돼요.",
}


def paraphrase(dialogue: str) -> str:
    """``dialogue`` with every recurring turn paraphrased (speaker prefixes kept)."""
    lines = []
    for line in dialogue.split("\n"):
        m = TURN.match(line)
        lines.append(m.group(1) + PARAPHRASES.get(m.group(2), m.group(2)) if m else line)
    return "\n".join(lines)


def build(sample: Path = SAMPLE) -> str:
    """The table's CSV text: one row per dev and test dialogue that has a recurring turn."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["fname", "dialogue"])
    for split in ("dev", "test"):
        with (sample / f"{split}.csv").open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                text = paraphrase(row["dialogue"])
                if text != row["dialogue"]:
                    writer.writerow([row["fname"], text])
    return buf.getvalue()


def main() -> int:
    OUT.write_text(build(), encoding="utf-8")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
