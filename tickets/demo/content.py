"""What the demo data says: people, organizations and ticket threads in English and Chinese.

Texts are plain text (the services turn them into safe HTML). Placeholders: {order}, {amount},
{invoice}, {device}, {plan}, {version}, {tracking}. Languages are Django language codes.
"""

from __future__ import annotations

EN, ZH_HANS, ZH_HANT = "en", "zh-hans", "zh-hant"
LANGUAGES = (EN, ZH_HANS, ZH_HANT)

# --- people ---------------------------------------------------------------------------------------

ENGLISH_FIRST_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
    "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Daniel", "Karen",
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Lucas", "Mia", "Ethan", "Chloe", "Oliver",
)
ENGLISH_LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Anderson",
    "Taylor", "Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis",
    "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson",
)
# (name, romanised for email addresses)
SIMPLIFIED_SURNAMES = (
    ("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"), ("杨", "yang"),
    ("赵", "zhao"), ("黄", "huang"), ("周", "zhou"), ("吴", "wu"), ("徐", "xu"), ("孙", "sun"),
    ("胡", "hu"), ("朱", "zhu"), ("高", "gao"), ("林", "lin"), ("何", "he"), ("郭", "guo"),
)
SIMPLIFIED_GIVEN_NAMES = (
    ("伟", "wei"), ("芳", "fang"), ("娜", "na"), ("秀英", "xiuying"), ("敏", "min"), ("静", "jing"),
    ("磊", "lei"), ("强", "qiang"), ("洋", "yang"), ("艳", "yan"), ("勇", "yong"), ("军", "jun"),
    ("杰", "jie"), ("娟", "juan"), ("涛", "tao"), ("明", "ming"), ("超", "chao"), ("霞", "xia"),
    ("平", "ping"), ("刚", "gang"), ("晓东", "xiaodong"), ("婷婷", "tingting"), ("子涵", "zihan"), ("浩然", "haoran"),
)
TRADITIONAL_SURNAMES = (
    ("陳", "chen"), ("林", "lin"), ("黃", "huang"), ("張", "chang"), ("李", "lee"), ("王", "wang"),
    ("吳", "wu"), ("劉", "liu"), ("蔡", "tsai"), ("楊", "yang"), ("許", "hsu"), ("鄭", "cheng"),
    ("謝", "hsieh"), ("郭", "kuo"), ("洪", "hung"), ("曾", "tseng"),
)
TRADITIONAL_GIVEN_NAMES = (
    ("志明", "chihming"), ("淑芬", "shufen"), ("家豪", "chiahao"), ("怡君", "yichun"), ("俊傑", "chunchieh"),
    ("雅婷", "yating"), ("冠宇", "kuanyu"), ("佩珊", "peishan"), ("建宏", "chienhung"), ("美玲", "meiling"),
    ("宗翰", "tsunghan"), ("欣怡", "hsinyi"), ("承恩", "chengen"), ("詩涵", "shihhan"),
)

# Organizations: (name, domains, timezone, main language)
ORGANIZATIONS = (
    ("Acme Corporation", ["acme.example"], "America/New_York", EN),
    ("Globex Logistics", ["globex.example"], "America/Chicago", EN),
    ("Initech", ["initech.example", "initech-mail.example"], "America/Los_Angeles", EN),
    ("Northwind Traders", ["northwind.example"], "Europe/London", EN),
    ("Contoso Retail", ["contoso.example"], "Europe/Berlin", EN),
    ("华信科技有限公司", ["huaxin-tech.example"], "Asia/Shanghai", ZH_HANS),
    ("天河物流集团", ["tianhe-logistics.example"], "Asia/Shanghai", ZH_HANS),
    ("深圳云帆电子", ["yunfan.example"], "Asia/Shanghai", ZH_HANS),
    ("台北數位股份有限公司", ["taipei-digital.example"], "Asia/Taipei", ZH_HANT),
    ("香港環球貿易有限公司", ["hk-global.example"], "Asia/Hong_Kong", ZH_HANT),
)
# Personal mail domains: customers there belong to no organization.
PERSONAL_DOMAINS = {EN: ("mail.example.net", "inbox.example.org"), ZH_HANS: ("qq.example.cn", "163.example.cn"),
                    ZH_HANT: ("mail.example.tw", "netvigator.example.hk")}
TIMEZONES = {EN: ("America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "Australia/Sydney"),
             ZH_HANS: ("Asia/Shanghai",), ZH_HANT: ("Asia/Taipei", "Asia/Hong_Kong")}
# E.164 prefixes by language: (country code + national prefix, digits to add)
PHONE_PATTERNS = {EN: (("+1415555", 4), ("+1212555", 4), ("+4420794", 6)), ZH_HANS: (("+86138", 8), ("+86139", 8)),
                  ZH_HANT: (("+8869", 8), ("+8526", 7))}

# --- custom fields ---------------------------------------------------------------------------------

PLANS = ("Free", "Pro", "Business", "Enterprise")
DEVICES = ("iOS", "Android", "Windows", "macOS", "Linux", "Web")
VERSIONS = ("4.12.0", "4.12.1", "4.13.0", "4.13.2", "5.0.0", "5.0.1")

# --- ticket threads --------------------------------------------------------------------------------
# Each category: team slug, weight, tags, type, and per language the texts of each step.
#   subjects   the ticket subject
#   openings   the customer's first message
#   asks       an agent reply that asks for something (ticket goes pending)
#   infos      the customer's answer
#   solutions  an agent reply that solves it
# and "threads": which of them tell one coherent story, as indexes
# (subject, opening, ask, info, solution); ask and info are None when there is nothing to ask.

CATEGORIES: dict[str, dict] = {
    "billing": {
        "threads": ((0, 0, 0, 0, 0), (3, 0, 0, 0, 0), (1, 1, 0, 0, 2), (2, 2, 1, 1, 1)),
        "team": "billing", "weight": 18, "tags": ("billing",), "extra_tags": ("refund", "invoice", "vip"),
        "type": "question",
        EN: {
            "subjects": ("Charged twice for my {plan} subscription", "Refund request for order {order}",
                         "Invoice {invoice} shows the wrong company name", "Why was my card charged {amount}?"),
            "openings": (
                "I was charged twice this month for my {plan} plan ({amount} each). My bank statement shows two "
                "identical payments on the same day. Could you refund the duplicate?",
                "I cancelled order {order} within the trial period but I have not received a refund yet. "
                "Could you check what happened?",
                "The invoice {invoice} we received lists our old company name. Our finance team needs a corrected "
                "copy before the end of the month.",
            ),
            "asks": (
                "Thanks for reaching out. I can see two payments on your account. To make sure I refund the right "
                "one, could you send me the last four digits of the card that was charged?",
                "Sorry for the trouble. Could you tell me the exact company name and VAT number that should appear "
                "on the invoice?",
            ),
            "infos": (
                "The card ends in 4242. Both charges were on the 3rd.",
                "It should be the full legal name as on our website, VAT number GB123456789.",
            ),
            "solutions": (
                "I have refunded the duplicate charge of {amount}. Depending on your bank it will appear on your "
                "statement within 5 to 10 business days. Sorry for the inconvenience!",
                "I have issued a corrected invoice {invoice} and sent it to your billing contact. The old one has "
                "been voided.",
                "The refund for order {order} has been processed today. You will receive a confirmation email shortly.",
            ),
        },
        ZH_HANS: {
            "subjects": ("{plan} 套餐被重复扣费", "订单 {order} 申请退款", "发票 {invoice} 的公司抬头有误",
                         "为什么信用卡被扣了 {amount}？"),
            "openings": (
                "这个月我的 {plan} 套餐被扣了两次费用（每次 {amount}），银行账单上同一天有两笔相同的付款，"
                "麻烦帮我退还重复的那一笔。",
                "我在试用期内取消了订单 {order}，但到现在还没有收到退款，请帮忙查一下是什么情况。",
                "我们收到的发票 {invoice} 上还是公司的旧名称，财务部门需要在月底前拿到更正后的发票。",
            ),
            "asks": (
                "您好，感谢您的联系。我看到您的账户确实有两笔付款。为了确认退款的是正确的一笔，"
                "请提供一下被扣款银行卡的后四位数字。",
                "非常抱歉给您带来不便。请告诉我发票上应显示的完整公司名称和税号。",
            ),
            "infos": (
                "卡号后四位是 4242，两笔都是 3 号扣的。",
                "公司全称是“华信科技有限公司”，税号 91310000MA1FL0XX0X。",
            ),
            "solutions": (
                "已为您退还重复扣除的 {amount}，根据银行不同，一般会在 5 到 10 个工作日内到账。给您添麻烦了！",
                "已为您重新开具发票 {invoice} 并发送到财务联系人邮箱，旧发票已作废。",
                "订单 {order} 的退款今天已经处理完成，稍后您会收到确认邮件。",
            ),
        },
        ZH_HANT: {
            "subjects": ("{plan} 方案被重複扣款", "訂單 {order} 申請退款", "發票 {invoice} 的公司抬頭有誤",
                         "為什麼信用卡被扣了 {amount}？"),
            "openings": (
                "這個月我的 {plan} 方案被扣了兩次款（每次 {amount}），銀行帳單上同一天有兩筆相同的付款，"
                "麻煩幫我退回重複的那一筆。",
                "我在試用期內取消了訂單 {order}，但到現在還沒有收到退款，請幫忙查一下。",
                "我們收到的發票 {invoice} 上還是公司的舊名稱，會計部門需要在月底前拿到更正後的發票。",
            ),
            "asks": (
                "您好，感謝您的來信。我看到您的帳戶確實有兩筆付款，為了確認退款正確，"
                "請提供被扣款信用卡的末四碼。",
                "很抱歉造成您的不便。請告訴我發票上應顯示的完整公司名稱與統一編號。",
            ),
            "infos": (
                "卡號末四碼是 4242，兩筆都是 3 號扣的。",
                "公司全名是「台北數位股份有限公司」，統一編號 12345678。",
            ),
            "solutions": (
                "已為您退回重複扣款的 {amount}，依銀行作業約 5 到 10 個工作天入帳。造成困擾非常抱歉！",
                "已重新開立發票 {invoice} 並寄給您的會計聯絡人，舊發票已作廢。",
                "訂單 {order} 的退款已於今天處理完成，稍後您會收到確認信。",
            ),
        },
    },
    "login": {
        "threads": ((0, 0, 0, 0, 2), (1, 1, 0, 0, 0), (2, 2, 1, 1, 1)),
        "team": "support", "weight": 20, "tags": ("login",), "extra_tags": ("2fa", "password", "sso"),
        "type": "incident",
        EN: {
            "subjects": ("Can't log in to my account", "Password reset email never arrives",
                         "Locked out after enabling two-factor authentication", "SSO login fails with error 403"),
            "openings": (
                "I have been trying to log in since this morning but it keeps saying my password is wrong. I reset "
                "it twice already. I'm using the {device} app, version {version}.",
                "I requested a password reset three times but the email never arrives. I checked the spam folder too.",
                "I enabled two-factor authentication yesterday and got a new phone today. Now I can't get the codes "
                "and I'm locked out of my account.",
            ),
            "asks": (
                "Sorry to hear that! Could you confirm the email address you use to sign in, and tell me roughly when "
                "you last requested a reset? I'll check our mail logs.",
                "I can help with that. For security reasons, please reply from the email address on the account and "
                "tell me the date of your last invoice so I can verify it's you.",
            ),
            "infos": (
                "It's the address I'm writing from. The last reset request was about an hour ago.",
                "Replying from the account address now. The last invoice was on the 1st of this month.",
            ),
            "solutions": (
                "Thanks! Our mail provider had blocked your domain temporarily. I've cleared that and sent a fresh "
                "reset link; it should arrive within a minute.",
                "I've verified your identity and reset two-factor authentication on your account. You can now sign in "
                "with your password and set up 2FA again on the new phone.",
                "The issue was caused by an outdated app version. Please update to {version} or later and sign in again.",
            ),
        },
        ZH_HANS: {
            "subjects": ("无法登录账户", "收不到重置密码的邮件", "开启两步验证后无法登录", "单点登录失败，提示 403 错误"),
            "openings": (
                "从早上开始一直登录不上，总是提示密码错误，我已经重置了两次密码。我用的是 {device} 客户端，版本 {version}。",
                "我申请了三次重置密码，但一直收不到邮件，垃圾邮件文件夹也看过了。",
                "昨天开启了两步验证，今天换了新手机，现在收不到验证码，账户登录不了。",
            ),
            "asks": (
                "很抱歉遇到这个问题！请确认一下您登录用的邮箱地址，以及最近一次申请重置密码的大概时间，我来查一下邮件日志。",
                "我可以帮您处理。出于安全考虑，请用账户绑定的邮箱回复，并告诉我最近一张发票的日期，以便核实身份。",
            ),
            "infos": (
                "就是我现在发邮件用的这个地址，最近一次申请大概是一个小时前。",
                "已经用绑定邮箱回复了，最近一张发票是本月 1 号。",
            ),
            "solutions": (
                "谢谢！我们的邮件服务商暂时屏蔽了您的域名，现已解除，并重新发送了重置链接，一分钟内应该就能收到。",
                "已核实您的身份，并重置了账户的两步验证。现在可以用密码登录，然后在新手机上重新设置两步验证。",
                "这个问题是客户端版本过旧导致的，请升级到 {version} 或更高版本后重新登录。",
            ),
        },
        ZH_HANT: {
            "subjects": ("無法登入帳戶", "收不到重設密碼的郵件", "開啟雙重驗證後無法登入", "單一登入失敗，顯示 403 錯誤"),
            "openings": (
                "從早上開始一直登入不了，總是顯示密碼錯誤，我已經重設兩次密碼了。我用的是 {device} App，版本 {version}。",
                "我申請了三次重設密碼，但一直收不到郵件，垃圾郵件匣也看過了。",
                "昨天開啟了雙重驗證，今天換了新手機，現在收不到驗證碼，帳戶登入不了。",
            ),
            "asks": (
                "很抱歉遇到這個問題！請確認您登入用的電子郵件地址，以及最近一次申請重設密碼的大概時間，我來查一下郵件紀錄。",
                "我可以協助您。基於安全考量，請用帳戶綁定的信箱回覆，並告訴我最近一張發票的日期以核對身分。",
            ),
            "infos": (
                "就是我現在寄信的這個地址，最近一次申請大約是一個小時前。",
                "已經用綁定信箱回覆了，最近一張發票是本月 1 號。",
            ),
            "solutions": (
                "謝謝！我們的郵件服務商暫時封鎖了您的網域，現已解除並重新寄出重設連結，一分鐘內應該會收到。",
                "已核對您的身分並重設帳戶的雙重驗證。現在可以用密碼登入，再於新手機上重新設定雙重驗證。",
                "這個問題是 App 版本過舊造成的，請更新到 {version} 或更新版本後重新登入。",
            ),
        },
    },
    "shipping": {
        "threads": ((0, 0, 0, 0, 0), (1, 1, 1, 1, 1), (2, 2, 1, 1, 2)),
        "team": "support", "weight": 16, "tags": ("shipping",), "extra_tags": ("delayed", "damaged", "return"),
        "type": "question",
        EN: {
            "subjects": ("Where is my order {order}?", "Package arrived damaged", "Wrong item delivered for order {order}",
                         "Change delivery address for {order}"),
            "openings": (
                "My order {order} was supposed to arrive last week. The tracking number {tracking} hasn't updated in "
                "five days. Can you tell me where it is?",
                "The package for order {order} arrived today but the box was crushed and the device screen is cracked. "
                "I attached photos to my previous email.",
                "I received a completely different item than the one I ordered in {order}. What should I do?",
            ),
            "asks": (
                "I'm sorry about this. Could you confirm the delivery address on the order and whether anyone else "
                "could have received the package?",
                "So sorry about the damaged delivery. Could you send a photo of the shipping label so we can file a "
                "claim with the carrier?",
            ),
            "infos": (
                "The address is correct. Nobody else is at home during the day though.",
                "Here is the label photo. The tracking number is {tracking}.",
            ),
            "solutions": (
                "The carrier confirmed the package was delayed at their hub. It's out for delivery today; tracking "
                "{tracking} should update this afternoon.",
                "We are sending a replacement free of charge with express shipping. You don't need to return the "
                "damaged one.",
                "I've arranged a free return pickup and the correct item ships today. You'll get a new tracking number "
                "by email.",
            ),
        },
        ZH_HANS: {
            "subjects": ("订单 {order} 什么时候发货？", "收到的包裹破损了", "订单 {order} 发错货了", "修改订单 {order} 的收货地址"),
            "openings": (
                "我的订单 {order} 本来上周就应该到了，物流单号 {tracking} 已经五天没有更新了，请问包裹现在在哪里？",
                "订单 {order} 的包裹今天到了，但是箱子被压坏了，设备屏幕也裂了，照片已经在上一封邮件里发过。",
                "我收到的商品和订单 {order} 里买的完全不一样，请问该怎么处理？",
            ),
            "asks": (
                "非常抱歉。请确认一下订单上的收货地址是否正确，以及是否有其他人可能代收了包裹？",
                "很抱歉包裹出现破损。请发一张快递面单的照片，我们好向物流公司提出理赔。",
            ),
            "infos": (
                "地址没有问题，不过白天家里没人。",
                "面单照片发给您了，物流单号是 {tracking}。",
            ),
            "solutions": (
                "物流公司确认包裹在中转站延误了，今天已经安排派送，单号 {tracking} 下午会更新。",
                "我们会免费给您补发一台新的，走顺丰加急，破损的那台不用寄回。",
                "已为您安排免费上门取件退货，正确的商品今天发出，新的物流单号会通过邮件发给您。",
            ),
        },
        ZH_HANT: {
            "subjects": ("訂單 {order} 什麼時候會到？", "收到的包裹破損了", "訂單 {order} 寄錯商品", "修改訂單 {order} 的收件地址"),
            "openings": (
                "我的訂單 {order} 原本上週就該送到，物流單號 {tracking} 已經五天沒有更新了，請問包裹現在在哪裡？",
                "訂單 {order} 的包裹今天到了，但是箱子被壓壞，裝置螢幕也裂了，照片已經在上一封信附上。",
                "我收到的商品和訂單 {order} 買的完全不一樣，請問該怎麼處理？",
            ),
            "asks": (
                "非常抱歉。請確認訂單上的收件地址是否正確，以及是否有其他人可能代收了包裹？",
                "很抱歉包裹破損。請提供貨運標籤的照片，我們好向物流公司申請理賠。",
            ),
            "infos": (
                "地址沒有問題，不過白天家裡沒人。",
                "標籤照片寄給您了，物流單號是 {tracking}。",
            ),
            "solutions": (
                "物流公司確認包裹在轉運站延誤，今天已安排配送，單號 {tracking} 下午會更新。",
                "我們會免費補寄一台新的並以快遞寄出，破損的那台不需要寄回。",
                "已為您安排免費到府收件退貨，正確的商品今天寄出，新的物流單號會以電子郵件通知您。",
            ),
        },
    },
    "bug": {
        "threads": ((0, 0, 0, 0, 0), (1, 1, 1, 1, 1), (2, 2, 1, 1, 2)),
        "team": "tech", "weight": 16, "tags": ("bug",), "extra_tags": ("crash", "sync", "regression"),
        "type": "problem",
        EN: {
            "subjects": ("App crashes when opening reports", "Sync error on {device} after update to {version}",
                         "Export to CSV produces an empty file", "Dashboard charts don't load"),
            "openings": (
                "Since updating to {version} the {device} app crashes every time I open the reports tab. It worked "
                "fine before the update.",
                "We get \"Sync failed (code 502)\" on all our {device} machines since this morning. Nothing changed "
                "on our side.",
                "When I export the customer list to CSV, the downloaded file is empty (0 bytes). We have about 3,000 "
                "customers.",
            ),
            "asks": (
                "Thanks for the report. Could you send us the log file? On {device} it's under Settings > Help > "
                "Export diagnostics. Please also tell me your account ID.",
                "I'm sorry for the disruption. Does this happen for every user in your organization, or only some? "
                "A screenshot of the error would help too.",
            ),
            "infos": (
                "Attached the diagnostics export. Account ID is in the file name. It happens for all users.",
                "Only users on {device} are affected, the web version works. Screenshot attached.",
            ),
            "solutions": (
                "Thanks to your logs our engineers found the bug. Version {version} with the fix is rolling out now; "
                "please update and let us know if the crash is gone.",
                "This was caused by an expired certificate on one of our sync servers. It was replaced and syncing "
                "works again. Sorry for the disruption.",
                "We fixed the export for large lists today. Please try again; if the file is still empty, reply here.",
            ),
        },
        ZH_HANS: {
            "subjects": ("打开报表时应用崩溃", "{device} 升级到 {version} 后同步出错", "导出 CSV 得到的是空文件", "仪表盘图表加载不出来"),
            "openings": (
                "升级到 {version} 之后，{device} 客户端每次打开报表页面都会崩溃，升级前一切正常。",
                "从今天早上开始，我们所有 {device} 电脑都提示“同步失败（错误代码 502）”，我们这边没有做任何改动。",
                "导出客户列表为 CSV 时，下载的文件是空的（0 字节），我们大概有 3000 个客户。",
            ),
            "asks": (
                "感谢反馈。请把日志文件发给我们：在 {device} 上路径是 设置 > 帮助 > 导出诊断信息，另外请告知您的账户 ID。",
                "很抱歉影响了您的工作。是贵公司所有用户都出现这个问题，还是只有部分用户？如能附上报错截图就更好了。",
            ),
            "infos": (
                "诊断文件已附上，账户 ID 在文件名里，所有用户都有这个问题。",
                "只有 {device} 用户受影响，网页版正常，截图已附上。",
            ),
            "solutions": (
                "根据您的日志，工程师已经定位到问题，修复版本 {version} 正在发布，请升级后告诉我们是否还会崩溃。",
                "原因是我们一台同步服务器的证书过期了，现已更换，同步恢复正常。给您带来不便，非常抱歉。",
                "今天已修复大列表导出的问题，请再试一次，如果文件仍然是空的，请直接回复此邮件。",
            ),
        },
        ZH_HANT: {
            "subjects": ("開啟報表時 App 當機", "{device} 更新到 {version} 後同步錯誤", "匯出 CSV 是空白檔案", "儀表板圖表無法載入"),
            "openings": (
                "更新到 {version} 之後，{device} App 每次開啟報表頁面都會當機，更新前一切正常。",
                "從今天早上開始，我們所有 {device} 電腦都顯示「同步失敗（錯誤代碼 502）」，我們這邊沒有做任何變更。",
                "匯出客戶清單為 CSV 時，下載的檔案是空的（0 位元組），我們大約有 3000 位客戶。",
            ),
            "asks": (
                "感謝回報。請提供記錄檔：在 {device} 上位於 設定 > 說明 > 匯出診斷資訊，另外請告知您的帳戶 ID。",
                "很抱歉影響您的工作。是貴公司所有使用者都有這個問題，還是只有部分使用者？若能附上錯誤截圖會更有幫助。",
            ),
            "infos": (
                "診斷檔案已附上，帳戶 ID 在檔名裡，所有使用者都有這個問題。",
                "只有 {device} 使用者受影響，網頁版正常，截圖已附上。",
            ),
            "solutions": (
                "根據您的記錄檔，工程師已找到問題，修正版本 {version} 正在發佈，請更新後告訴我們是否還會當機。",
                "原因是我們一台同步伺服器的憑證過期，現已更換，同步恢復正常。造成不便非常抱歉。",
                "今天已修正大量資料匯出的問題，請再試一次，若檔案仍是空的，請直接回覆這封信。",
            ),
        },
    },
    "feature": {
        "threads": ((0, 0, 0, 0, 0), (0, 0, 0, 0, 1), (1, 1, 0, 0, 1), (2, 2, 0, 0, 1), (2, 2, 0, 0, 0)),
        "team": "support", "weight": 8, "tags": ("feature-request",), "extra_tags": ("roadmap", "api"),
        "type": "task",
        EN: {
            "subjects": ("Feature request: dark mode", "Can we export reports to PDF?", "Please add a Traditional Chinese interface",
                         "Suggestion: bulk edit for contacts"),
            "openings": (
                "Our team works late shifts and would love a dark mode in the web app. Is that on the roadmap?",
                "It would save us hours every month if reports could be exported to PDF directly instead of CSV.",
                "Half of our staff in Taipei would prefer the interface in Traditional Chinese. Any plans for that?",
            ),
            "asks": (
                "Thanks for the suggestion! To help our product team prioritise, how many people on your team would "
                "use this, and how often?",
            ),
            "infos": (
                "About 40 people, every day.",
            ),
            "solutions": (
                "Good news: this is now available in version {version}. You can turn it on under Settings > Appearance.",
                "I've passed your request to our product team and added your vote. It's planned for next quarter; "
                "we'll let you know when it ships.",
            ),
        },
        ZH_HANS: {
            "subjects": ("功能建议：深色模式", "报表能否导出为 PDF？", "希望支持繁体中文界面", "建议：联系人批量编辑"),
            "openings": (
                "我们团队经常上夜班，非常希望网页版能有深色模式，请问有这个计划吗？",
                "如果报表能直接导出 PDF 而不是 CSV，每个月能帮我们省下好几个小时。",
                "我们台北办公室一半的同事更习惯繁体中文界面，请问有计划支持吗？",
            ),
            "asks": (
                "感谢您的建议！为了帮助产品团队评估优先级，请问贵团队大概有多少人会用到，使用频率如何？",
            ),
            "infos": (
                "大约 40 人，每天都会用。",
            ),
            "solutions": (
                "好消息：{version} 版本已经支持这个功能，可以在 设置 > 外观 中开启。",
                "已将您的需求转给产品团队并记录了投票，计划在下个季度上线，发布时会通知您。",
            ),
        },
        ZH_HANT: {
            "subjects": ("功能建議：深色模式", "報表能否匯出為 PDF？", "希望支援繁體中文介面", "建議：聯絡人批次編輯"),
            "openings": (
                "我們團隊常常上夜班，非常希望網頁版能有深色模式，請問有這個規劃嗎？",
                "如果報表能直接匯出 PDF 而不是 CSV，每個月可以幫我們省下好幾個小時。",
                "我們台北辦公室一半的同事比較習慣繁體中文介面，請問有計畫支援嗎？",
            ),
            "asks": (
                "感謝您的建議！為了協助產品團隊評估優先順序，請問貴團隊大約有多少人會使用，頻率如何？",
            ),
            "infos": (
                "大約 40 人，每天都會用。",
            ),
            "solutions": (
                "好消息：{version} 版已支援此功能，可在 設定 > 外觀 中開啟。",
                "已將您的需求轉給產品團隊並記錄投票，預計下一季推出，上線時會通知您。",
            ),
        },
    },
    "account": {
        "threads": ((0, 0, 0, 0, 0), (1, 1, 1, 1, 1), (2, 2, None, None, 2), (3, 2, None, None, 2)),
        "team": "support", "weight": 10, "tags": ("account",), "extra_tags": ("gdpr", "plan-change"),
        "type": "task",
        EN: {
            "subjects": ("Change the email address on my account", "Please delete my account and data",
                         "Upgrade from {plan} to Business", "Add three more seats to our plan"),
            "openings": (
                "I changed jobs and need to move my account to a new email address. How can I do that without losing "
                "my history?",
                "Please delete my account and all personal data you hold about me, as allowed under GDPR.",
                "We'd like to upgrade from {plan} to Business and add three more seats. Will the price be prorated?",
            ),
            "asks": (
                "Happy to help. Please confirm the new address by replying from it, so I can verify you own it.",
                "Of course. Before I proceed: deletion is permanent. Please confirm that you want us to delete the "
                "account and all its data.",
            ),
            "infos": (
                "Replying from the new address now. Thanks!",
                "Yes, I confirm. Please delete everything.",
            ),
            "solutions": (
                "Done! Your account now uses the new address. Your history and settings are unchanged.",
                "Your account and personal data have been deleted. You'll receive a final confirmation email.",
                "Your plan is now Business with three more seats; the difference is prorated on your next invoice.",
            ),
        },
        ZH_HANS: {
            "subjects": ("修改账户绑定的邮箱", "请注销我的账户并删除数据", "从 {plan} 升级到商业版", "为我们的套餐增加三个席位"),
            "openings": (
                "我换了工作，需要把账户迁移到新的邮箱地址，怎样操作才不会丢失历史记录？",
                "请注销我的账户，并删除你们保存的所有个人数据。",
                "我们想从 {plan} 升级到商业版，并增加三个席位，费用会按比例计算吗？",
            ),
            "asks": (
                "很乐意帮您处理。请用新邮箱回复这封邮件，以便确认新邮箱归您所有。",
                "好的。需要提醒您：注销是永久性的，请确认是否要删除账户及全部数据。",
            ),
            "infos": (
                "已经用新邮箱回复了，谢谢！",
                "确认，请全部删除。",
            ),
            "solutions": (
                "已完成！您的账户已改用新邮箱，历史记录和设置都保持不变。",
                "您的账户和个人数据已删除，稍后会收到最终确认邮件。",
                "已将您的套餐升级为商业版并增加三个席位，差价会按比例计入下一张账单。",
            ),
        },
        ZH_HANT: {
            "subjects": ("變更帳戶的電子郵件地址", "請刪除我的帳戶與資料", "從 {plan} 升級到商業版", "為我們的方案增加三個席位"),
            "openings": (
                "我換了工作，需要把帳戶轉到新的電子郵件地址，要怎麼做才不會遺失歷史紀錄？",
                "請刪除我的帳戶，以及你們保存的所有個人資料。",
                "我們想從 {plan} 升級到商業版並增加三個席位，費用會按比例計算嗎？",
            ),
            "asks": (
                "很樂意協助。請用新的信箱回覆這封信，以確認新信箱屬於您。",
                "好的。提醒您：刪除後無法復原，請確認是否要刪除帳戶及所有資料。",
            ),
            "infos": (
                "已經用新信箱回覆了，謝謝！",
                "確認，請全部刪除。",
            ),
            "solutions": (
                "完成了！您的帳戶已改用新信箱，歷史紀錄和設定都不變。",
                "您的帳戶與個人資料已刪除，稍後會收到最終確認信。",
                "已將您的方案升級為商業版並增加三個席位，差額會按比例計入下一期帳單。",
            ),
        },
    },
    "integration": {
        "threads": ((0, 0, 0, 0, 0), (1, 1, 0, 0, 1)),
        "team": "tech", "weight": 7, "tags": ("api",), "extra_tags": ("webhook", "rate-limit"),
        "type": "incident",
        EN: {
            "subjects": ("Webhooks stopped arriving", "API returns 429 Too Many Requests", "OAuth token refresh fails",
                         "Zapier integration disconnected"),
            "openings": (
                "Our webhook endpoint hasn't received any events since yesterday 14:00 UTC. The endpoint is up and "
                "returns 200 to our own tests.",
                "We're getting 429 responses from the API even though we send far fewer than 100 requests per minute.",
                "Refreshing the OAuth token fails with invalid_grant for all our users since the weekend.",
            ),
            "asks": (
                "Thanks for the details. Could you share the webhook ID (or the endpoint URL) and a request ID from one "
                "of the failing calls?",
            ),
            "infos": (
                "Webhook ID is wh_7f3a9, request ID req_19c2e8 from 10:42 UTC.",
            ),
            "solutions": (
                "Your endpoint was automatically disabled after a series of timeouts last week. I've re-enabled it and "
                "replayed the missed events.",
                "You were sharing one API key across several services, so the limits added up. I've raised your limit; "
                "we also recommend one key per service.",
            ),
        },
        ZH_HANS: {
            "subjects": ("Webhook 收不到推送了", "API 返回 429 请求过多", "OAuth 令牌刷新失败", "Zapier 集成断开连接"),
            "openings": (
                "从昨天 UTC 14:00 开始，我们的 Webhook 地址就没有再收到任何事件，接口本身正常，自测返回 200。",
                "我们每分钟请求远少于 100 次，但 API 一直返回 429。",
                "从周末开始，所有用户刷新 OAuth 令牌时都报 invalid_grant 错误。",
            ),
            "asks": (
                "感谢提供详细信息。请告知 Webhook ID（或接口地址），以及一次失败请求的请求 ID。",
            ),
            "infos": (
                "Webhook ID 是 wh_7f3a9，请求 ID 是 req_19c2e8，时间是 UTC 10:42。",
            ),
            "solutions": (
                "上周您的接口连续超时后被系统自动停用了，我已重新启用，并重放了漏掉的事件。",
                "您在多个服务之间共用了同一个 API 密钥，所以限额被叠加消耗了。已为您提高限额，也建议每个服务使用单独的密钥。",
            ),
        },
        ZH_HANT: {
            "subjects": ("Webhook 收不到通知了", "API 回傳 429 請求過多", "OAuth 權杖更新失敗", "Zapier 整合中斷連線"),
            "openings": (
                "從昨天 UTC 14:00 開始，我們的 Webhook 端點就沒有再收到任何事件，端點本身正常，自測回傳 200。",
                "我們每分鐘的請求遠少於 100 次，但 API 一直回傳 429。",
                "從週末開始，所有使用者更新 OAuth 權杖時都出現 invalid_grant 錯誤。",
            ),
            "asks": (
                "感謝提供詳細資訊。請告知 Webhook ID（或端點網址），以及一次失敗請求的請求 ID。",
            ),
            "infos": (
                "Webhook ID 是 wh_7f3a9，請求 ID 是 req_19c2e8，時間是 UTC 10:42。",
            ),
            "solutions": (
                "上週您的端點連續逾時後被系統自動停用，我已重新啟用並重送了遺漏的事件。",
                "您在多個服務間共用同一組 API 金鑰，所以額度被累加使用。已為您提高額度，也建議每個服務使用獨立的金鑰。",
            ),
        },
    },
    "performance": {
        "threads": ((0, 0, 0, 0, 0), (1, 1, 0, 0, 1)),
        "team": "tech", "weight": 5, "tags": ("performance",), "extra_tags": ("slow", "outage"),
        "type": "incident",
        EN: {
            "subjects": ("Web app very slow today", "Search takes more than 30 seconds", "Timeouts when uploading files"),
            "openings": (
                "Every page in the web app takes 10+ seconds to load today. Our internet connection is fine.",
                "Searching for a customer takes over 30 seconds and sometimes times out.",
            ),
            "asks": (
                "Sorry about that. Which region are you connecting from, and could you run the connection test at "
                "status.example.com/test and send me the result?",
            ),
            "infos": (
                "We're in Singapore. Test result: latency 480 ms, packet loss 3%.",
            ),
            "solutions": (
                "We found a routing problem between our Asia-Pacific edge and your ISP; traffic has been rerouted and "
                "page loads should be back to normal.",
                "We rebuilt the search index for your account; searches now return in under a second.",
            ),
        },
        ZH_HANS: {
            "subjects": ("今天网页版非常慢", "搜索要 30 多秒", "上传文件时超时"),
            "openings": (
                "今天网页版每个页面都要 10 秒以上才能打开，我们的网络是正常的。",
                "搜索一个客户要 30 多秒，有时还会超时。",
            ),
            "asks": (
                "很抱歉。请问您是从哪个地区访问的？麻烦在 status.example.com/test 做一次连接测试，把结果发给我。",
            ),
            "infos": (
                "我们在上海，测试结果：延迟 480 毫秒，丢包率 3%。",
            ),
            "solutions": (
                "我们发现亚太节点到您所在运营商之间的路由有问题，已切换线路，页面加载应该恢复正常了。",
                "已为您的账户重建搜索索引，现在搜索一秒内就能返回结果。",
            ),
        },
        ZH_HANT: {
            "subjects": ("今天網頁版非常慢", "搜尋要 30 多秒", "上傳檔案時逾時"),
            "openings": (
                "今天網頁版每個頁面都要 10 秒以上才能開啟，我們的網路是正常的。",
                "搜尋一位客戶要 30 多秒，有時還會逾時。",
            ),
            "asks": (
                "很抱歉。請問您是從哪個地區連線？麻煩在 status.example.com/test 做一次連線測試，並把結果寄給我。",
            ),
            "infos": (
                "我們在台北，測試結果：延遲 480 毫秒，封包遺失率 3%。",
            ),
            "solutions": (
                "我們發現亞太節點到您的電信業者之間路由有問題，已切換線路，頁面載入應已恢復正常。",
                "已為您的帳戶重建搜尋索引，現在搜尋一秒內就會回傳結果。",
            ),
        },
    },
}

# Said in any category.
GREETINGS = {EN: ("Hi {name},", "Hello {name},", "Dear {name},"), ZH_HANS: ("{name}，您好：", "您好，{name}："),
             ZH_HANT: ("{name} 您好：", "您好，{name}：")}
CUSTOMER_GREETINGS = {EN: ("Hello,", "Hi there,", "Hi support team,"), ZH_HANS: ("你好，", "客服你好，"),
                      ZH_HANT: ("您好，", "客服您好，")}
AGENT_SIGN_OFFS = {EN: ("Best regards,\n{agent}", "Kind regards,\n{agent}", "Thanks,\n{agent}"),
                   ZH_HANS: ("祝好！\n{agent}", "此致\n{agent}"), ZH_HANT: ("敬祝 順心\n{agent}", "謝謝！\n{agent}")}
CUSTOMER_SIGN_OFFS = {EN: ("Thanks,\n{name}", "Best,\n{name}", "Regards,\n{name}"), ZH_HANS: ("谢谢！\n{name}",),
                      ZH_HANT: ("謝謝！\n{name}",)}
# A customer writing back after the ticket was solved: it reopens the ticket.
REOPENINGS = {
    EN: ("Unfortunately it's still not working on my side, I get the same error.",
         "Thanks, but the problem came back this morning.",),
    ZH_HANS: ("很遗憾，我这边还是不行，报的还是同样的错误。", "谢谢，不过今天早上问题又出现了。"),
    ZH_HANT: ("很遺憾，我這邊還是不行，出現一樣的錯誤。", "謝謝，不過今天早上問題又出現了。"),
}
FOLLOW_UP_SOLUTIONS = {
    EN: ("Thanks for letting us know. We found a second cause and fixed it as well; it should work now.",),
    ZH_HANS: ("感谢告知。我们找到了另一个原因并已一并修复，现在应该可以正常使用了。",),
    ZH_HANT: ("感謝告知。我們找到了另一個原因並已一併修正，現在應該可以正常使用了。",),
}
ON_HOLD_REPLIES = {
    EN: ("Our engineering team is working on this. I've put your ticket on hold and will update you as soon as "
         "there's a fix.",),
    ZH_HANS: ("工程团队正在处理这个问题，我先将工单挂起，一有修复进展会第一时间通知您。",),
    ZH_HANT: ("工程團隊正在處理這個問題，我先將工單暫停，一有修正進度會第一時間通知您。",),
}
# Internal notes are written in the agents' working language, English or Chinese.
NOTES = (
    "Checked the payment provider dashboard, the duplicate charge is visible there too.",
    "Customer is on the Enterprise plan, handle with priority.",
    "Reproduced on staging with version {version}. Filed ENG-4821.",
    "Similar to last week's incident, see the post-mortem.",
    "已在后台核实，客户信息无误。",
    "与技术部确认过，属于已知问题，修复预计下周上线。",
    "此客戶為重要客戶，請優先處理。",
)
