"""The words that say what a number is, in Simplified and Traditional Chinese and English.

Each entry is a phrase; `bot.key_facts.extract` turns it into tokens with the pipeline that reads the message
(character by character in Chinese), so a phrase matches in either pipeline. English phrases match in any case.
A cue word may be followed by a few other words before the number ("订单号是", "tracking number for the parcel
is"); the nearest cue before a number decides what it is.
"""

from __future__ import annotations

from typing import Dict, Tuple

from bot.key_facts import AMOUNT, ORDER_NUMBER, PHONE, TRACKING_NUMBER

CUES: Dict[str, Tuple[str, ...]] = {
    ORDER_NUMBER: (
        "订单号", "订单编号", "订单号码", "订单", "单号", "下单", "交易号", "流水号",
        "訂單號", "訂單編號", "訂單號碼", "訂單", "單號", "下單", "交易號", "流水號",
        "order", "order no", "order no.", "order number", "order #", "order id", "order ref", "purchase",
        "invoice", "invoice no", "invoice number",
    ),
    TRACKING_NUMBER: (
        "运单号", "快递单号", "物流单号", "快递号", "运单", "快递", "物流", "包裹",
        "運單號", "快遞單號", "物流單號", "快遞號", "運單", "快遞", "包裹",
        "tracking", "tracking no", "tracking no.", "tracking number", "tracking #", "tracking id", "waybill",
        "parcel", "shipment", "consignment", "courier",
    ),
    PHONE: (
        "电话", "手机", "手机号", "手机号码", "电话号码", "联系电话", "联系方式", "座机", "打", "拨打", "致电", "回电",
        "電話", "手機", "手機號", "手機號碼", "電話號碼", "聯繫電話", "聯絡電話", "聯繫方式", "座機", "撥打", "回電",
        "tel", "phone", "phone number", "mobile", "cell", "call", "call me", "call me at", "reach me at",
        "contact number", "whatsapp",
    ),
    AMOUNT: (
        "金额", "价格", "价钱", "退款", "退了", "减了", "付了", "付款", "支付", "花了", "扣了", "扣款", "收费", "多收", "多扣", "运费", "总共",
        "金額", "價格", "價錢", "退了", "減了", "付款", "支付", "花了", "扣了", "扣款", "收費", "多收", "多扣", "運費", "總共",
        "refund", "refunded", "paid", "pay", "charged", "charge", "price", "cost", "costs", "total", "deducted",
        "fee", "amount",
    ),
}

# Currency signs and names written before an amount, and after it.
CURRENCY_BEFORE: Tuple[str, ...] = (
    "¥", "￥", "$", "€", "£", "rmb", "cny", "usd", "hkd", "hk$", "us$", "nt$", "mop",
)
CURRENCY_AFTER: Tuple[str, ...] = (
    "元", "块", "块钱", "圆", "美元", "港币", "港元", "人民币", "欧元", "英镑", "澳门币", "台币",
    "塊", "塊錢", "港幣", "人民幣", "歐元", "英鎊", "澳門幣", "台幣",
    "rmb", "cny", "usd", "hkd", "yuan", "dollar", "dollars", "bucks", "euro", "euros", "pounds",
)
# A number followed by one of these counts something else: never an amount by its cue alone ("付了3次").
NOT_MONEY_AFTER: Tuple[str, ...] = (
    "次", "件", "个", "個", "天", "小时", "小時", "分钟", "分鐘", "点", "點", "号", "號", "单", "單", "台", "份", "%",
    "times", "time", "items", "item", "days", "day", "hours", "hour", "minutes", "mins", "pcs", "pieces", "%",
    "am", "pm", "orders", "x",
)

# Dates: month names, day words, and the words of dates said relative to today.
MONTHS: Tuple[str, ...] = (
    "january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november",
    "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    "jan.", "feb.", "mar.", "apr.", "jun.", "jul.", "aug.", "sep.", "sept.", "oct.", "nov.", "dec.",
)
RELATIVE_DATES: Tuple[str, ...] = (
    "今天", "昨天", "前天", "大前天", "明天", "后天", "今日", "昨日", "後天",
    "today", "yesterday", "tomorrow", "day before yesterday", "the day before yesterday",
)
WEEKDAYS_ZH: Tuple[str, ...] = ("一", "二", "三", "四", "五", "六", "日", "天")
WEEK_WORDS_ZH: Tuple[str, ...] = ("上周", "这周", "本周", "下周", "上星期", "这星期", "下星期", "上礼拜", "週", "上週", "這週", "本週", "下週")
WEEKDAYS_EN: Tuple[str, ...] = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEK_WORDS_EN: Tuple[str, ...] = ("last", "this", "next", "on")
