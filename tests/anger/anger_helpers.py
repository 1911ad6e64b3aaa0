"""Data shared by the anger tests."""

from __future__ import annotations

# A small, balanced set for quick training in tests (not the shipped data).
SMALL = [
    ("this is the third time I ask, where is my refund!!!", "angry"),
    ("you people are useless, I will report you", "angry"),
    ("WORST SERVICE EVER, cancel my account", "angry"),
    ("I'm furious, you charged me twice", "angry"),
    ("你们这什么垃圾服务！！！", "angry"),
    ("再不退款我就打12315投诉你们", "angry"),
    ("气死我了，又丢件了", "angry"),
    ("骗子公司，我要曝光你们", "angry"),
    ("my parcel is late, when will it arrive?", "unhappy"),
    ("the refund has not arrived yet", "unhappy"),
    ("退款还没到账", "unhappy"),
    ("快递晚了两天", "unhappy"),
    ("how do I reset my password?", "neutral"),
    ("what are your opening hours?", "neutral"),
    ("怎么修改地址？", "neutral"),
    ("支持支付宝吗？", "neutral"),
    ("thanks, that solved it", "happy"),
    ("great service, thank you", "happy"),
    ("谢谢，问题解决了", "happy"),
    ("太好了，非常感谢", "happy"),
]
