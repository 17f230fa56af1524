"""Generate the project's small Korean daily-dialogue summarization sample (``data/sample/``).

The sample lets the quick demo and the tests run without any external corpus. Every dialogue is
built from a scenario template (shopping, restaurant, doctor, directions, hotel, phone message,
job interview, weather, homework, travel, bank, flat rental, lost item, movie plans, party
planning) with random slot values, and its summary restates those slot values and refers to the
speakers by their ``#PersonN#`` tags, so a small seq2seq model can learn the mapping in minutes.

The output is deterministic for a given ``--seed``: running ::

    python tools/make_sample_data.py

rewrites ``data/sample/{train,dev,test}.csv`` byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
from collections.abc import Callable, Sequence
from pathlib import Path

P1, P2, P3 = "#Person1#", "#Person2#", "#Person3#"

# Korean particles depend on whether the preceding syllable ends in a consonant (batchim).
_TAG_BATCHIM = {P1: True, P2: False, P3: False}  # 원 / 투 / 쓰리
_DIGIT_BATCHIM = {"0": True, "1": True, "2": False, "3": True, "4": False,
                  "5": False, "6": True, "7": True, "8": True, "9": False}


def _batchim(word: str) -> tuple[bool, bool]:
    """(ends in a consonant, that consonant is ㄹ) for the last syllable of ``word``."""
    if word in _TAG_BATCHIM:
        return _TAG_BATCHIM[word], False
    last = word.rstrip()[-1]
    if "가" <= last <= "힣":
        final = (ord(last) - 0xAC00) % 28
        return final != 0, final == 8
    if last in _DIGIT_BATCHIM:
        return _DIGIT_BATCHIM[last], last in "178"
    return False, False


def j(word: str, particle: str) -> str:
    """``word`` + the right form of ``particle`` ("은", "이", "을", "과", "으로", "이에요", "아")."""
    has, rieul = _batchim(word)
    forms = {"은": ("은", "는"), "이": ("이", "가"), "을": ("을", "를"), "과": ("과", "와"),
             "아": ("아", "야"), "이에요": ("이에요", "예요"), "으로": ("으로", "로")}
    with_c, without_c = forms[particle]
    if particle == "으로" and rieul:
        return word + "로"
    return word + (with_c if has else without_c)


DAYS = ["월요일", "화요일", "수요일", "목요일", "금요일", "토요일", "일요일"]
NAMES = ["민수", "지영", "현우", "수진", "준호", "서연", "태호", "하은", "동현", "유나", "성민", "예린",
         "재석", "미경", "승훈", "다은"]


def time_str(rng: random.Random) -> str:
    half = rng.choice(["", " 30분"])
    if rng.random() < 0.3:
        return f"오전 {rng.randint(9, 11)}시{half}"
    return f"오후 {rng.randint(1, 8)}시{half}"


def won(n: int) -> str:
    return f"{n:,}원"


Row = tuple[list[str], str, str]  # (turns, summary, topic)


def shopping(r: random.Random) -> Row:
    item = r.choice(["티셔츠", "운동화", "가방", "모자", "청바지", "재킷", "우산", "시계", "목도리", "셔츠"])
    color = r.choice(["빨간색", "파란색", "검은색", "흰색", "회색", "초록색", "노란색"])
    price = r.randrange(15, 150) * 1000
    buy = r.random() < 0.6
    t = [f"{P2}: {r.choice(['어서 오세요. 찾으시는 거 있으세요?', '안녕하세요, 도와드릴까요?'])}",
         f"{P1}: {j(item, '을')} 좀 보고 싶어요. {color} 있나요?",
         f"{P2}: 네, {color} {j(item, '이')} 여기 있어요. 한번 보세요.",
         f"{P1}: 이거 얼마예요?",
         f"{P2}: {won(price)}입니다."]
    if buy:
        t += [f"{P1}: 좋네요. 이걸로 살게요. 카드 되죠?", f"{P2}: 물론이죠. 봉투에 담아 드릴게요."]
        s = f"{j(P1, '은')} 가게에서 {color} {j(item, '을')} {won(price)}에 삽니다."
    else:
        t += [f"{P1}: 생각보다 비싸네요. 조금 더 둘러보고 올게요.", f"{P2}: 네, 천천히 보세요."]
        s = f"{j(P1, '은')} {color} {j(item, '을')} 보지만 {won(price)}이라 비싸서 사지 않습니다."
    return t, s, "쇼핑"


def restaurant(r: random.Random) -> Row:
    foods = ["김치찌개", "불고기", "비빔밥", "된장찌개", "냉면", "돈가스", "파스타", "스테이크", "칼국수", "떡볶이"]
    drinks = ["콜라", "오렌지 주스", "아이스티", "맥주", "녹차", "사이다"]
    f2, f3 = r.sample(foods, 2)
    drink = r.choice(drinks)
    people = r.choice(["두", "세"])
    t = [f"{P1}: {r.choice(['주문하시겠어요?', '메뉴 고르셨어요?', '무엇으로 드릴까요?'])}",
         f"{P2}: 네, 저는 {j(f2, '으로')} 할게요.",
         f"{P3}: 저는 {j(f3, '이')} 먹고 싶어요. 많이 맵나요?",
         f"{P1}: 조금 맵지만 괜찮으실 거예요. 음료는요?",
         f"{P2}: {drink} {people} 잔 주세요.",
         f"{P1}: 알겠습니다. 금방 준비해 드릴게요."]
    s = (f"{j(P2, '과')} {j(P3, '은')} 식당에서 각각 {j(f2, '과')} {j(f3, '을')} 주문하고, "
         f"{drink} {people} 잔도 시킵니다.")
    return t, s, "음식 주문"


def doctor(r: random.Random) -> Row:
    symptom = r.choice(["두통", "기침", "열", "복통", "허리 통증", "목 통증", "어지럼증", "콧물"])
    dur = r.choice(["이틀", "사흘", "일주일", "나흘", "열흘"])
    advice, advice_s = r.choice([
        ("약을 처방해 드릴게요. 하루 세 번 드세요.", "약을 처방합니다"),
        ("며칠 푹 쉬시고 물을 많이 드세요.", "푹 쉬라고 조언합니다"),
        ("혈액 검사를 한번 받아 보시죠.", "혈액 검사를 권합니다"),
        ("엑스레이를 찍어 봐야겠어요.", "엑스레이 촬영을 권합니다"),
    ])
    t = [f"{P1}: {r.choice(['어디가 불편해서 오셨어요?', '오늘은 어디가 아프세요?'])}",
         f"{P2}: {j(symptom, '이')} 심해서요.",
         f"{P1}: 언제부터 그러셨어요?",
         f"{P2}: {dur} 전부터요. 잠도 잘 못 자요.",
         f"{P1}: 다른 증상은 없으세요?",
         f"{P2}: 특별히 없어요.",
         f"{P1}: {advice}"]
    s = f"{j(P2, '은')} {dur} 전부터 {j(symptom, '이')} 있어 병원에 옵니다. 의사인 {j(P1, '은')} {advice_s}."
    return t, s, "병원 진료"


def directions(r: random.Random) -> Row:
    dest = r.choice(["지하철역", "우체국", "시립 도서관", "시청", "박물관", "버스 터미널", "중앙 공원", "은행"])
    blocks = r.choice(["한", "두", "세"])
    side = r.choice(["왼쪽", "오른쪽"])
    minutes = r.choice([5, 10, 15, 20])
    t = [f"{P1}: {r.choice(['실례합니다.', '저기요, 말씀 좀 물을게요.'])} {dest}에 어떻게 가요?",
         f"{P2}: 이 길로 {blocks} 블록 쭉 가세요.",
         f"{P1}: 그다음에는요?",
         f"{P2}: 사거리에서 {side}으로 돌면 바로 보여요.",
         f"{P1}: 걸어서 얼마나 걸려요?",
         f"{P2}: {minutes}분 정도요.",
         f"{P1}: 감사합니다, 많은 도움이 됐어요."]
    s = (f"{j(P1, '이')} {dest} 가는 길을 묻자, {j(P2, '은')} {blocks} 블록 직진한 뒤 "
         f"{side}으로 돌라고 알려 줍니다. 걸어서 {minutes}분 걸립니다.")
    return t, s, "길 찾기"


def hotel(r: random.Random) -> Row:
    room = r.choice(["싱글룸", "더블룸", "트윈룸", "스위트룸", "패밀리룸"])
    nights = r.choice(["하루", "이틀", "사흘", "나흘"])
    nights_n = {"하루": "1박", "이틀": "2박", "사흘": "3박", "나흘": "4박"}[nights]
    day = r.choice(DAYS)
    price = r.randrange(8, 40) * 10000
    t = [f"{P1}: 안녕하세요, 방을 예약하고 싶은데요.",
         f"{P2}: 네, 언제 오시나요?",
         f"{P1}: 이번 주 {day}부터 {nights_n}이요. {room} 있나요?",
         f"{P2}: 네, 있습니다. 1박에 {won(price)}입니다.",
         f"{P1}: 좋아요. 그걸로 할게요.",
         f"{P2}: 연락처를 알려 주시겠어요?",
         f"{P1}: #PhoneNumber#입니다."]
    s = (f"{j(P1, '은')} {P2}에게 {day}부터 {nights_n}으로 {j(room, '을')} 1박에 {won(price)}에 예약하고 "
         f"연락처를 남깁니다.")
    return t, s, "호텔 예약"


def phone_message(r: random.Random) -> Row:
    name = r.choice(NAMES)
    what = r.choice(["회의", "저녁 약속", "면담", "발표 연습", "스터디 모임"])
    day = r.choice(DAYS)
    when = time_str(r)
    t = [f"{P2}: 여보세요?",
         f"{P1}: 안녕하세요, {name} 씨 계신가요?",
         f"{P2}: 지금 자리에 없어요. 메시지 남기시겠어요?",
         f"{P1}: 네, {j(what, '이')} {day} {when}로 바뀌었다고 전해 주세요.",
         f"{P2}: 알겠습니다. 전화번호도 남기시겠어요?",
         f"{P1}: #PhoneNumber#로 연락 달라고 해 주세요.",
         f"{P2}: 꼭 전해 드릴게요."]
    s = (f"{j(P1, '은')} {name} 씨에게 전화하지만 자리에 없어서, {P2}에게 {j(what, '이')} "
         f"{day} {when}로 바뀌었다는 메시지를 남깁니다.")
    return t, s, "전화 메시지"


def interview(r: random.Random) -> Row:
    pos = r.choice(["마케팅 담당자", "프로그래머", "디자이너", "회계사", "영업 사원", "번역가", "요리사"])
    years = r.randint(2, 9)
    strength = r.choice(["꼼꼼함", "책임감", "팀워크", "외국어 실력", "문제 해결 능력", "성실함"])
    start = r.choice(["다음 주", "다음 달", "두 주 뒤", "바로"])
    t = [f"{P1}: 어서 오세요. {pos} 자리에 지원하셨죠?",
         f"{P2}: 네, 맞습니다.",
         f"{P1}: 이 분야 경력이 얼마나 되세요?",
         f"{P2}: {years}년 정도 일했습니다.",
         f"{P1}: 본인의 장점은 뭐라고 생각하세요?",
         f"{P2}: 제 장점은 {strength}입니다.",
         f"{P1}: 언제부터 일할 수 있나요?",
         f"{P2}: {start}부터 가능합니다." if start != "바로" else f"{P2}: 바로 시작할 수 있습니다."]
    s = (f"{j(P2, '은')} {pos} 자리에 지원해 {P1}에게 면접을 봅니다. {j(P2, '은')} {years}년 경력과 "
         f"{j(strength, '을')} 내세웁니다.")
    return t, s, "취업 면접"


def weather(r: random.Random) -> Row:
    day = r.choice([*DAYS[4:], "내일", "모레"])
    cond = r.choice(["비", "눈", "태풍", "폭염", "황사"])
    act = r.choice(["소풍", "등산", "자전거 타기", "캠핑", "야구 경기 관람", "바다 수영"])
    alt = r.choice(["영화를 보기로", "집에서 쉬기로", "박물관에 가기로", "다음 주로 미루기로", "카페에서 만나기로"])
    t = [f"{P1}: {day} {act} 계획 그대로야?",
         f"{P2}: 일기 예보 봤어? {day}에 {j(cond, '이')} 온대.",
         f"{P1}: 정말? 그럼 {j(act, '은')} 힘들겠다.",
         f"{P2}: 응, 대신 뭐 할까?",
         f"{P1}: {alt.replace('기로', '자')}.",
         f"{P2}: 좋아, 그렇게 하자."]
    if cond in ("폭염", "황사"):
        t[1] = f"{P2}: 일기 예보 봤어? {day}에 {j(cond, '이')} 심하대."
    if alt.startswith("다음 주"):
        s = f"{j(P1, '과')} {j(P2, '은')} {day} {cond} 예보 때문에 {j(act, '을')} {alt} 합니다."
    else:
        s = f"{j(P1, '과')} {j(P2, '은')} {day} {cond} 예보 때문에 {act} 대신 {alt} 합니다."
    return t, s, "날씨"


def homework(r: random.Random) -> Row:
    subj = r.choice(["수학", "역사", "과학", "영어", "국어", "지리", "미술"])
    task = r.choice(["보고서", "문제집 풀이", "발표 준비", "독후감", "실험 보고서"])
    due = r.choice(DAYS[:5])
    place = r.choice(["도서관", "카페", "학교 스터디룸", "분식집"])
    name = r.choice(NAMES)
    t = [f"{P1}: {name}{'아' if _batchim(name)[0] else '야'}, {subj} 숙제 다 했어?",
         f"{P2}: 아니, {task} 아직 시작도 못 했어.",
         f"{P1}: 그거 {due}까지잖아.",
         f"{P2}: 알아. 너무 어려워서 막막해.",
         f"{P1}: 오늘 방과 후에 {place}에서 같이 하자.",
         f"{P2}: 고마워. 그럼 거기서 보자."]
    s = (f"{j(P2, '은')} {due}까지 내야 하는 {subj} {j(task, '을')} 아직 못 해서, {j(P1, '과')} "
         f"방과 후에 {place}에서 같이 하기로 합니다.")
    return t, s, "숙제"


def travel(r: random.Random) -> Row:
    city = r.choice(["부산", "제주도", "도쿄", "파리", "방콕", "강릉", "경주", "뉴욕", "홍콩", "전주"])
    how = r.choice(["기차", "비행기", "배", "버스", "자동차"])
    days = r.randint(2, 7)
    act = r.choice(["맛집을 돌아볼", "바다를 볼", "박물관을 구경할", "쇼핑을 할", "등산을 할", "사진을 찍을"])
    t = [f"{P1}: {r.choice(['이번 휴가 때 뭐 해?', '휴가 계획 세웠어?'])}",
         f"{P2}: {city}에 여행 가. {days}일 동안 있을 거야.",
         f"{P1}: 좋겠다! 어떻게 가?",
         f"{P2}: {how}{'로' if not _batchim(how)[0] or _batchim(how)[1] else '으로'} 가.",
         f"{P1}: 가서 뭐 할 거야?",
         f"{P2}: 주로 {act} 거야.",
         f"{P1}: 재미있게 다녀와. 사진 보여 줘."]
    s = (f"{j(P2, '은')} {P1}에게 휴가 때 {j(how, '으로')} {city}에 가서 {days}일 동안 "
         f"{act} 계획이라고 말합니다.")
    return t, s, "여행 계획"


def bank(r: random.Random) -> Row:
    kind = r.choice(["open", "exchange", "lost", "transfer"])
    if kind == "open":
        acc = r.choice(["적금 통장", "입출금 통장", "청년 적금"])
        t = [f"{P1}: 어떤 업무를 도와드릴까요?", f"{P2}: {acc}을 새로 만들고 싶어요.",
             f"{P1}: 신분증 있으세요?", f"{P2}: 네, 여기 있어요.",
             f"{P1}: 이 서류에 주소를 적어 주세요.", f"{P2}: #Address#라고 적으면 되죠?",
             f"{P1}: 네, 금방 처리해 드릴게요."]
        s = f"{j(P2, '은')} 은행에서 {j(acc, '을')} 새로 만들고, {P1}의 안내로 서류에 주소를 적습니다."
    elif kind == "exchange":
        cur = r.choice(["달러", "엔화", "유로", "위안화"])
        amt = r.randrange(10, 200) * 10000
        t = [f"{P1}: 어떤 업무 보러 오셨어요?", f"{P2}: {won(amt)}을 {cur}로 바꾸고 싶어요.",
             f"{P1}: 오늘 환율이 조금 올랐는데 괜찮으세요?", f"{P2}: 네, 여행 때문에 꼭 필요해요.",
             f"{P1}: 알겠습니다. 잠시만 기다려 주세요."]
        s = f"{j(P2, '은')} 여행 때문에 은행에서 {won(amt)}을 {cur}로 환전합니다."
    elif kind == "lost":
        where = r.choice(["지하철", "택시", "식당", "버스"])
        t = [f"{P1}: 어떤 업무를 도와드릴까요?", f"{P2}: 어제 {where}에서 카드를 잃어버렸어요.",
             f"{P1}: 카드 번호를 아세요?", f"{P2}: #CardNumber#예요.",
             f"{P1}: 지금 바로 정지해 드릴게요. 새 카드는 일주일 뒤에 나와요.", f"{P2}: 감사합니다."]
        s = (f"{j(P2, '은')} {where}에서 카드를 잃어버려 은행에 신고하고, {j(P1, '은')} 카드를 정지한 뒤 "
             f"새 카드가 일주일 뒤에 나온다고 알려 줍니다.")
    else:
        amt = r.randrange(5, 100) * 10000
        name = r.choice(NAMES)
        t = [f"{P1}: 어떻게 오셨어요?", f"{P2}: {name} 씨에게 {won(amt)}을 보내고 싶어요.",
             f"{P1}: 받는 분 계좌 번호 있으세요?", f"{P2}: 네, 이 종이에 적어 왔어요.",
             f"{P1}: 수수료는 500원입니다.", f"{P2}: 네, 괜찮아요."]
        s = f"{j(P2, '은')} 은행에서 {name} 씨에게 {won(amt)}을 송금합니다. 수수료는 500원입니다."
    return t, s, "은행 업무"


def flat(r: random.Random) -> Row:
    rooms = r.choice(["원룸", "방 두 개짜리 집", "방 세 개짜리 아파트", "오피스텔"])
    rent = r.randrange(30, 150) * 10000
    month = r.choice(["다음 달", "3월", "6월", "9월", "12월"])
    ok = r.random() < 0.5
    t = [f"{P1}: 광고 보고 전화드렸어요. {rooms} 아직 있나요?",
         f"{P2}: 네, 있어요. 월세는 {won(rent)}이에요.",
         f"{P1}: 위치가 어디예요?",
         f"{P2}: #Address#예요. 역에서 가까워요.",
         f"{P1}: {month}부터 들어갈 수 있어요?"]
    if ok:
        t += [f"{P2}: 네, 가능해요.", f"{P1}: 그럼 내일 집을 보러 갈게요."]
        s = (f"{j(P1, '은')} 월세 {won(rent)}인 {j(rooms, '을')} 알아보고, {month} 입주가 가능해 "
             "내일 보러 가기로 합니다.")
    else:
        t += [f"{P2}: 아니요, {month}에는 아직 사람이 살고 있어요.", f"{P1}: 아쉽네요. 다른 곳을 알아볼게요."]
        s = f"{j(P1, '은')} 월세 {won(rent)}인 {j(rooms, '을')} 알아보지만, {month}에 입주할 수 없어 포기합니다."
    return t, s, "집 구하기"


def lost_item(r: random.Random) -> Row:
    item = r.choice(["지갑", "휴대폰", "여권", "노트북", "우산", "열쇠"])
    where = r.choice(["버스", "도서관", "카페", "공원", "영화관", "택시"])
    color = r.choice(["검은색", "갈색", "파란색", "빨간색"])
    found = r.random() < 0.5
    t = [f"{P1}: 분실물 센터죠? 어제 {where}에서 {j(item, '을')} 잃어버렸어요.",
         f"{P2}: 어떻게 생겼나요?",
         f"{P1}: {color}이에요.",
         f"{P2}: 잠시만요, 확인해 볼게요."]
    if found:
        t += [f"{P2}: {color} {item} 여기 있네요. 오늘 찾으러 오세요.", f"{P1}: 다행이다! 정말 감사합니다."]
        s = (f"{j(P1, '은')} {where}에서 잃어버린 {color} {j(item, '을')} 찾으러 분실물 센터에 연락하고, "
             f"{j(P2, '은')} 그것을 찾아 줍니다.")
    else:
        t += [f"{P2}: 아직 들어온 게 없어요. 연락처를 남겨 주세요.", f"{P1}: #PhoneNumber#예요."]
        s = f"{j(P1, '은')} {where}에서 {j(item, '을')} 잃어버렸지만 아직 찾지 못해 {P2}에게 연락처를 남깁니다."
    return t, s, "분실물"


def movie(r: random.Random) -> Row:
    genre = r.choice(["공포 영화", "코미디 영화", "액션 영화", "애니메이션", "로맨스 영화", "다큐멘터리"])
    day = r.choice(DAYS)
    when = time_str(r)
    meet = r.choice(["극장 앞", "역 출구", "카페", "버스 정류장"])
    t = [f"{P1}: {day}에 시간 있어? 영화 보러 가자.",
         f"{P2}: 좋아. 뭐 볼 건데?",
         f"{P1}: 요즘 인기 있는 {genre} 어때?",
         f"{P2}: 괜찮네. 몇 시에 만날까?",
         f"{P1}: {when}에 {meet}에서 보자.",
         f"{P2}: 알았어, 늦지 마."]
    s = f"{j(P1, '과')} {j(P2, '은')} {day} {when}에 {meet}에서 만나 {genre}를 보기로 합니다."
    return t, s, "영화 약속"


def party(r: random.Random) -> Row:
    who = r.choice(NAMES)
    occasion = r.choice(["생일 파티", "졸업 파티", "송별회", "집들이"])
    day = r.choice(DAYS[4:])
    food = r.choice(["케이크", "피자", "치킨", "김밥", "과일"])
    gift = r.choice(["꽃다발", "향수", "책", "머그컵", "운동화"])
    t = [f"{P1}: {day}에 {who}의 {occasion} 준비해야지.",
         f"{P2}: 음식은 내가 {j(food, '을')} 준비할게.",
         f"{P3}: 그럼 나는 선물로 {j(gift, '을')} 살게.",
         f"{P1}: 좋아. 나는 장소를 꾸밀게.",
         f"{P3}: {who}한테는 비밀로 하자.",
         f"{P2}: 당연하지."]
    s = (f"{P1}, {P2}, {j(P3, '은')} {day}에 {who}의 {j(occasion, '을')} 준비합니다. "
         f"{j(P2, '은')} {j(food, '을')}, {j(P3, '은')} 선물로 {j(gift, '을')} 맡습니다.")
    return t, s, "파티 준비"


SCENARIOS: Sequence[Callable[[random.Random], Row]] = (
    shopping, restaurant, doctor, directions, hotel, phone_message, interview, weather,
    homework, travel, bank, flat, lost_item, movie, party,
)


def generate(n: int, rng: random.Random, seen: set[str]) -> list[tuple[str, str, str]]:
    """``n`` unique (dialogue, summary, topic) rows, scenarios cycled in shuffled rounds."""
    rows: list[tuple[str, str, str]] = []
    order: list[Callable[[random.Random], Row]] = []
    while len(rows) < n:
        if not order:
            order = list(SCENARIOS)
            rng.shuffle(order)
        turns, summary, topic = order.pop()(rng)
        dialogue = "\n".join(turns)
        if dialogue in seen:
            continue
        seen.add(dialogue)
        rows.append((dialogue, summary, topic))
    return rows


def to_csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def build(seed: int, sizes: dict[str, int]) -> dict[str, str]:
    """File name -> CSV text for every split."""
    rng = random.Random(seed)
    seen: set[str] = set()
    out: dict[str, str] = {}
    for split, n in sizes.items():
        rows = generate(n, rng, seen)
        if split == "test":
            out[f"{split}.csv"] = to_csv(("fname", "dialogue"),
                                         [(f"{split}_{i}", d) for i, (d, _, _) in enumerate(rows)])
        else:
            out[f"{split}.csv"] = to_csv(("fname", "dialogue", "summary", "topic"),
                                         [(f"{split}_{i}", d, s, t) for i, (d, s, t) in enumerate(rows)])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "sample")
    parser.add_argument("--seed", type=int, default=20240)
    parser.add_argument("--train", type=int, default=400)
    parser.add_argument("--dev", type=int, default=60)
    parser.add_argument("--test", type=int, default=40)
    args = parser.parse_args(argv)
    from dialsum_core.atomic import atomic_write_text

    files = build(args.seed, {"train": args.train, "dev": args.dev, "test": args.test})
    for name, text in files.items():
        atomic_write_text(args.out / name, text)
        print(f"wrote {args.out / name} ({len(text.encode('utf-8')):,} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
