"""The app's words in Korean (default), English and Vietnamese, and easy-read Korean where it differs.

Which language a page speaks follows the citizen's preference (notifiers/preferences.py), the same one the
notifications are written in; headings reuse the notifications' own translated titles (notifiers/templates)
where one exists. Benefit and agency names have Korean and English in the catalog: Vietnamese pages show the
English name, as the Vietnamese notifications do. Law titles stay in Korean (they are proper names).
"""

from __future__ import annotations

from collections.abc import Mapping

from notifiers.rendering import EASY_READ, NotificationTemplates

UI_LANGUAGES = ("ko", "en", "vi", EASY_READ)
HTML_LANG = {"ko": "ko", EASY_READ: "ko", "en": "en", "vi": "vi"}

# key → {language: words}; ko-easy falls back to ko where it is not given.
WORDS: Mapping[str, Mapping[str, str]] = {
    "service": {"ko": "사전 안내 서비스", "en": "Before Service", "vi": "Dịch vụ Thông báo Trước"},
    "skip": {"ko": "본문 바로가기", "en": "Skip to content", "vi": "Chuyển đến nội dung"},
    "masthead": {
        "ko": "이 누리집은 대한민국 공식 전자정부 누리집입니다.",
        "en": "This is an official website of the Republic of Korea government.",
        "vi": "Đây là trang web chính thức của Chính phủ Hàn Quốc.",
    },
    "logout": {"ko": "로그아웃", "en": "Sign out", "vi": "Đăng xuất"},
    "menu": {"ko": "주 메뉴", "en": "Main menu", "vi": "Menu chính"},
    "inbox": {"ko": "내 혜택", "en": "My benefits", "vi": "Quyền lợi của tôi", EASY_READ: "받을 수 있는 돈과 도움"},
    "consents": {"ko": "알림 동의", "en": "Notice consent", "vi": "Đồng ý nhận thông báo"},
    "devices": {"ko": "내 기기", "en": "My devices", "vi": "Thiết bị của tôi"},
    "preferences": {"ko": "설정", "en": "Settings", "vi": "Cài đặt"},
    "footer": {
        "ko": "정부가 먼저 찾아 알려 드리는 혜택입니다. 주민등록번호는 이 앱에 저장되지 않습니다.",
        "en": "Benefits the government finds for you first. This app never stores your resident registration number.",
        "vi": "Chính phủ chủ động tìm và báo cho bạn các quyền lợi. Ứng dụng không lưu số đăng ký cư trú của bạn.",
        EASY_READ: "나라가 먼저 찾아서 알려 드려요. 주민등록번호는 저장하지 않아요.",
    },
    "offline": {
        "ko": "인터넷에 연결되어 있지 않습니다. 마지막으로 받은 내용을 보여 드립니다.",
        "en": "You are offline. This is what we last received.",
        "vi": "Bạn đang ngoại tuyến. Đây là nội dung nhận được lần cuối.",
        EASY_READ: "인터넷이 끊겼어요. 마지막으로 받은 내용이에요.",
    },
    "last_updated": {"ko": "마지막 업데이트", "en": "last updated", "vi": "cập nhật lần cuối"},
    "empty": {
        "ko": "아직 안내할 혜택이 없습니다. 새 혜택이 생기면 알려 드릴게요.",
        "en": "Nothing to tell you yet. We will let you know when there is.",
        "vi": "Chưa có quyền lợi nào. Chúng tôi sẽ báo khi có.",
        EASY_READ: "아직 받을 수 있는 것이 없어요. 생기면 알려 드릴게요.",
    },
    "count": {"ko": "혜택 {n}가지", "en": "{n} benefits", "vi": "{n} quyền lợi", EASY_READ: "{n}가지"},
    "declined_mark": {"ko": "해당 없음으로 표시함", "en": "Marked not for me", "vi": "Đã đánh dấu không phù hợp"},
    "back": {"ko": "← 내 혜택", "en": "← My benefits", "vi": "← Quyền lợi của tôi"},
    "applied_done": {
        "ko": "신청하셨다고 기록했습니다. 기한 알림은 더 보내지 않습니다.",
        "en": "Noted that you applied. No more deadline reminders.",
        "vi": "Đã ghi nhận bạn đã đăng ký. Sẽ không nhắc hạn nữa.",
        EASY_READ: "신청했다고 적었어요. 이제 기한 알림은 안 보내요.",
    },
    "declined_done": {
        "ko": "해당 없음으로 표시했습니다. 필요하면 언제든 다시 신청할 수 있습니다.",
        "en": "Marked as not for you. You can still apply at any time.",
        "vi": "Đã đánh dấu không phù hợp. Bạn vẫn có thể đăng ký bất cứ lúc nào.",
    },
    "amount": {"ko": "받을 수 있는 금액", "en": "Amount", "vi": "Số tiền", EASY_READ: "받을 수 있는 돈"},
    "status": {"ko": "상태", "en": "Status", "vi": "Trạng thái"},
    "agency": {"ko": "담당 기관", "en": "Agency", "vi": "Cơ quan phụ trách"},
    "why": {"ko": "왜 받을 수 있나요", "en": "Why you can receive it", "vi": "Vì sao bạn được nhận"},
    "legal": {"ko": "근거 법령", "en": "Legal basis (Korean law)", "vi": "Căn cứ pháp lý (luật Hàn Quốc)"},
    "deadlines": {"ko": "기한", "en": "Deadlines", "vi": "Thời hạn", EASY_READ: "언제까지"},
    "needed": {"ko": "준비할 것", "en": "What you need", "vi": "Cần chuẩn bị", EASY_READ: "챙길 것"},
    "missing": {
        "ko": "아직 확인하지 못한 사항이 있습니다. 신청할 때 알려 주세요:",
        "en": "We could not check these yet; tell the agency when you apply:",
        "vi": "Chúng tôi chưa kiểm tra được các mục sau; hãy cho cơ quan biết khi đăng ký:",
    },
    "follow_page": {
        "ko": "신청 페이지의 안내를 따르세요.",
        "en": "Follow the instructions on the application page.",
        "vi": "Làm theo hướng dẫn trên trang đăng ký.",
    },
    "how_apply": {"ko": "신청하기", "en": "How to apply", "vi": "Cách đăng ký"},
    "go_apply": {"ko": "신청 페이지로 가기", "en": "Go to the application page", "vi": "Đến trang đăng ký"},
    "i_applied": {"ko": "신청했어요", "en": "I applied", "vi": "Tôi đã đăng ký"},
    "not_for_me": {"ko": "저와는 관계없어요", "en": "Not for me", "vi": "Không phù hợp với tôi"},
    "not_found": {"ko": "찾을 수 없습니다", "en": "Not found", "vi": "Không tìm thấy"},
    "not_found_text": {
        "ko": "이 안내는 없거나 다른 분의 것입니다.",
        "en": "This notice does not exist or belongs to someone else.",
        "vi": "Thông báo này không tồn tại hoặc thuộc về người khác.",
    },
    "to_inbox": {"ko": "내 혜택으로 가기", "en": "Go to my benefits", "vi": "Về quyền lợi của tôi"},
    "saved": {"ko": "저장했습니다.", "en": "Saved.", "vi": "Đã lưu."},
    "language": {"ko": "알림 언어", "en": "Language", "vi": "Ngôn ngữ"},
    "easy_read": {"ko": "쉬운 말로 알려 주세요", "en": "Easy-read Korean", "vi": "Tiếng Hàn dễ đọc"},
    "quiet": {"ko": "방해 금지 시간", "en": "Quiet hours", "vi": "Giờ yên tĩnh"},
    "quiet_hint": {
        "ko": "급하지 않은 알림은 이 시간에 보내지 않고, 끝나면 보내 드립니다. 마감이 가까운 알림은 바로 보냅니다.",
        "en": "Notices that are not urgent wait until these hours end (Korea time); close deadlines are sent at once.",
        "vi": "Thông báo không khẩn sẽ chờ đến khi hết giờ này (giờ Hàn Quốc); thông báo sắp hết hạn gửi ngay.",
    },
    "quiet_default": {
        "ko": "기본: 밤 {start}시부터 아침 {end}시까지",
        "en": "Default: {start}:00 to {end}:00",
        "vi": "Mặc định: {start}:00 đến {end}:00",
    },
    "quiet_own": {"ko": "직접 정하기", "en": "Choose my own", "vi": "Tự chọn"},
    "quiet_start": {"ko": "시작", "en": "From", "vi": "Từ"},
    "quiet_end": {"ko": "끝", "en": "Until", "vi": "Đến"},
    "save": {"ko": "저장", "en": "Save", "vi": "Lưu"},
    "passed": {"ko": "지남", "en": "passed", "vi": "đã qua"},
    "today": {"ko": "오늘까지", "en": "today", "vi": "hôm nay"},
    "info_only": {"ko": "정보 안내", "en": "Information", "vi": "Thông tin"},
    "once": {"ko": "원 (한 번)", "en": " KRW (once)", "vi": " KRW (một lần)"},
    "monthly": {"ko": "원 (매달)", "en": " KRW a month", "vi": " KRW mỗi tháng"},
    "won": {"ko": "원", "en": " KRW", "vi": " KRW"},
    "corrected": {
        "ko": "정정된 안내입니다: 이전 안내 {before} → {after}",
        "en": "Corrected: previously {before} → {after}",
        "vi": "Đã đính chính: trước đây {before} → {after}",
    },
}
# The consent centre and the devices page.
WORDS = {
    **WORDS,
    "consents_intro": {
        "ko": "분야마다, 받는 방법마다 따로 동의하고 언제든 철회할 수 있습니다. 철회는 바로 다음 알림부터 적용됩니다.",
        "en": "Consent per topic and per channel; withdraw at any time. Withdrawal applies from the very next notice.",
        "vi": "Đồng ý riêng cho từng lĩnh vực và kênh; rút lại bất cứ lúc nào, có hiệu lực từ thông báo kế tiếp.",
    },
    "withdrawn_done": {
        "ko": "동의를 철회했습니다. 이제 이 알림은 보내지 않습니다.",
        "en": "Consent withdrawn. These notices will not be sent any more.",
        "vi": "Đã rút lại sự đồng ý. Sẽ không gửi các thông báo này nữa.",
    },
    "granted_done": {"ko": "동의했습니다.", "en": "Consent given.", "vi": "Đã đồng ý."},
    "text_version": {"ko": "(동의서 {v}판)", "en": "(consent text {v})", "vi": "(văn bản đồng ý {v})"},
    "agreed_version": {"ko": "({v}판에 동의)", "en": "(agreed to {v})", "vi": "(đã đồng ý bản {v})"},
    "granted": {"ko": "동의함", "en": "consented", "vi": "đã đồng ý"},
    "not_granted": {"ko": "동의 안 함", "en": "not consented", "vi": "chưa đồng ý"},
    "withdraw": {"ko": "철회", "en": "withdraw", "vi": "rút lại"},
    "grant": {"ko": "동의", "en": "consent", "vi": "đồng ý"},
    "devices_intro": {
        "ko": "알림을 받는 기기입니다. 쓰지 않는 기기는 지워 주세요.",
        "en": "The devices that receive your notices. Remove those you no longer use.",
        "vi": "Các thiết bị nhận thông báo. Hãy xóa thiết bị bạn không còn dùng.",
    },
    "enable_push": {
        "ko": "이 브라우저에서 알림 받기",
        "en": "Get notices in this browser",
        "vi": "Nhận thông báo trên trình duyệt này",
    },
    "no_devices": {"ko": "등록된 기기가 없습니다.", "en": "No devices registered.", "vi": "Chưa có thiết bị nào."},
    "registered_on": {"ko": "{d} 등록", "en": "registered {d}", "vi": "đăng ký {d}"},
    "remove_device": {"ko": "…{s} 기기 지우기", "en": "Remove device …{s}", "vi": "Xóa thiết bị …{s}"},
    "web": {"ko": "웹 브라우저", "en": "Web browser", "vi": "Trình duyệt web"},
    "android": {"ko": "안드로이드 폰", "en": "Android phone", "vi": "Điện thoại Android"},
    "ios": {"ko": "아이폰", "en": "iPhone", "vi": "iPhone"},
}
CATEGORY_WORDS: Mapping[str, Mapping[str, str]] = {
    "childbirth_childcare": {"en": "Birth and childcare", "vi": "Sinh con và chăm sóc trẻ"},
    "elderly": {"en": "Older people", "vi": "Người cao tuổi"},
    "disability": {"en": "Disability", "vi": "Người khuyết tật"},
    "employment": {"en": "Employment", "vi": "Việc làm"},
    "housing": {"en": "Housing", "vi": "Nhà ở"},
    "bereavement": {"en": "Bereavement support", "vi": "Hỗ trợ tang quyến"},
}
CONSENT_WORDS: Mapping[str, Mapping[str, str]] = {
    "childbirth_childcare": {
        "en": "Notices about birth and childcare benefits (child allowance, first-meeting voucher, parent benefit…).",
        "vi": "Thông báo về trợ cấp sinh con và nuôi con (trợ cấp trẻ em, phiếu gặp mặt đầu tiên, trợ cấp cha mẹ…).",
    },
    "elderly": {
        "en": "Notices about benefits for older people (basic pension…).",
        "vi": "Thông báo về quyền lợi cho người cao tuổi (lương hưu cơ bản…).",
    },
    "disability": {"en": "Notices about disability benefits.", "vi": "Thông báo về quyền lợi cho người khuyết tật."},
    "employment": {
        "en": "Notices about unemployment and job-seeking benefits.",
        "vi": "Thông báo về trợ cấp thất nghiệp và tìm việc.",
    },
    "housing": {"en": "Notices about housing benefits.", "vi": "Thông báo về hỗ trợ nhà ở."},
    "bereavement": {
        "en": "Support for the bereaved after a death is registered (only after a period of mourning).",
        "vi": "Hỗ trợ tang quyến sau khi khai tử (chỉ sau thời gian để tang).",
    },
}
CHANNEL_WORDS: Mapping[str, Mapping[str, str]] = {
    "push": {"en": "App notice", "vi": "Thông báo ứng dụng"},
    "sms": {"en": "Text message", "vi": "Tin nhắn"},
    "kakao": {"en": "KakaoTalk", "vi": "KakaoTalk"},
}
STATUS_WORDS: Mapping[str, Mapping[str, str]] = {
    "new": {"ko": "새 혜택", "en": "New", "vi": "Mới"},
    "viewed": {"ko": "확인함", "en": "Viewed", "vi": "Đã xem"},
    "applied": {"ko": "신청함", "en": "Applied", "vi": "Đã đăng ký"},
    "granted": {"ko": "지급 결정", "en": "Granted", "vi": "Được duyệt"},
    "expired": {"ko": "기한 지남", "en": "Expired", "vi": "Hết hạn"},
    "ended": {"ko": "지원 종료", "en": "Ended", "vi": "Đã kết thúc"},
    "retracted": {"ko": "안내 취소", "en": "Withdrawn", "vi": "Đã rút lại"},
    "rejected": {"ko": "지급 안 됨", "en": "Not granted", "vi": "Không được duyệt"},
}
DEADLINE_WORDS: Mapping[str, str] = {  # Vietnamese labels, as _offer_lines.vi.j2 words them
    "application_closes": "Hạn đăng ký",
    "retroactive_window": "Hạn truy lĩnh",
    "use_by": "Hạn sử dụng",
    "entitlement_ends": "Được nhận đến",
}


def ui_language(language: str | None, easy_read: bool) -> str:
    if language not in ("ko", "en", "vi"):
        return "ko"
    return EASY_READ if easy_read and language == "ko" else language


def words(key: str, lang: str, **values: object) -> str:
    entry = WORDS[key]
    text = entry.get(lang) or entry.get("ko" if lang == EASY_READ else "en") or entry["ko"]
    return text.format(**values) if values else text


def translated(korean: str, words_by_language: Mapping[str, str], lang: str) -> str:
    """A Korean label of the app's own, or its translation (easy-read keeps the Korean)."""
    return words_by_language.get(lang, korean) if lang in ("en", "vi") else korean


def catalog_text(texts: Mapping[str, str], lang: str) -> str:
    """A catalog text (benefit, agency name; how to apply): ko for Korean, else the citizen's language where the
    catalog has it (vi for most benefits), else English."""
    if lang in ("ko", EASY_READ):
        return texts.get("ko") or texts.get("en", "")
    return texts.get(lang) or texts.get("en") or texts.get("ko", "")


def life_event_title(templates: NotificationTemplates, event_type: str, lang: str) -> str:
    """The heading of a life event: the notification's own (lock-screen-safe) title in that language."""
    return templates.lock_screen(event_type, lang, 1)[0]
