"""Chinese research terms in English, for finding the papers a reader's Chinese words name (pure).

The offline ranker and router read the words of papers, which arXiv lists in English; an LLM reads a
Chinese profile as it is. `english_phrase` rewrites each run of Chinese characters in a phrase with the
English of the glossary's terms it holds, longest term first ("多模态大模型" -> "multimodal large language
model", "LLM 推理加速" -> "LLM inference acceleration"); characters outside the glossary (particles such as
的, 与) are dropped. A phrase with nothing known gives "". The offline valuation, the candidates an LLM
judges (they are found by English words too) and `/search` read Chinese through it; the LLM judge and the
digest keep the reader's own words. `unread_terms` names the words it cannot read, for the `/interests`
reply.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

# Terms as Chinese research writing names them; several spellings may share one English term.
GLOSSARY: dict[str, str] = {
    # learning and models
    "机器学习": "machine learning", "深度学习": "deep learning", "强化学习": "reinforcement learning",
    "监督学习": "supervised learning", "无监督学习": "unsupervised learning", "自监督学习": "self-supervised learning",
    "半监督学习": "semi-supervised learning", "对比学习": "contrastive learning", "迁移学习": "transfer learning",
    "元学习": "meta-learning", "联邦学习": "federated learning", "持续学习": "continual learning",
    "终身学习": "lifelong learning", "主动学习": "active learning", "在线学习": "online learning",
    "多任务学习": "multi-task learning", "模仿学习": "imitation learning", "表示学习": "representation learning",
    "度量学习": "metric learning", "课程学习": "curriculum learning", "零样本": "zero-shot", "少样本": "few-shot",
    "上下文学习": "in-context learning", "语境学习": "in-context learning", "神经网络": "neural network",
    "图神经网络": "graph neural network", "卷积神经网络": "convolutional neural network",
    "循环神经网络": "recurrent neural network", "大语言模型": "large language model",
    "大型语言模型": "large language model", "大模型": "large language model", "语言模型": "language model",
    "基础模型": "foundation model", "预训练": "pretraining", "微调": "fine-tuning", "指令微调": "instruction tuning",
    "后训练": "post-training", "扩散模型": "diffusion model", "扩散语言模型": "diffusion language model",
    "生成模型": "generative model", "生成对抗网络": "generative adversarial network", "自编码器": "autoencoder",
    "稀疏自编码器": "sparse autoencoder", "变分自编码器": "variational autoencoder", "流匹配": "flow matching",
    "状态空间模型": "state space model", "混合专家": "mixture of experts", "专家混合": "mixture of experts",
    "注意力机制": "attention", "注意力": "attention", "线性注意力": "linear attention", "世界模型": "world model",
    "奖励模型": "reward model", "视觉语言模型": "vision-language model", "多模态": "multimodal",
    "多模态大模型": "multimodal large language model", "原生多模态": "native multimodal",
    "视觉分词器": "visual tokenizer", "分词器": "tokenizer", "嵌入": "embedding", "知识蒸馏": "knowledge distillation",
    "蒸馏": "distillation", "量化": "quantization", "剪枝": "pruning", "稀疏": "sparsity", "压缩": "compression",
    "低秩": "low-rank", "推测解码": "speculative decoding", "投机解码": "speculative decoding", "解码": "decoding",
    "键值缓存": "KV cache", "缓存": "cache", "长上下文": "long context", "上下文": "context",
    "检索增强生成": "retrieval-augmented generation", "检索增强": "retrieval augmented", "检索": "retrieval",
    "思维链": "chain of thought", "推理": "reasoning", "推理加速": "inference acceleration",
    "训练与推理": "training and inference", "推理效率": "inference efficiency", "推理速度": "inference speed",
    "推理成本": "inference cost", "推理引擎": "inference engine",
    "推理服务": "inference serving", "推理系统": "inference system", "推理优化": "inference optimization",
    "测试时扩展": "test-time scaling", "测试时": "test-time", "缩放定律": "scaling law", "缩放规律": "scaling law",
    "扩展定律": "scaling law", "提示工程": "prompt engineering", "提示": "prompt",
    "偏好优化": "preference optimization",
    "人类反馈": "human feedback", "奖励": "reward", "策略优化": "policy optimization",
    # theory and optimisation
    "理论": "theory", "泛化": "generalization", "优化": "optimization", "优化器": "optimizer",
    "训练动力学": "training dynamics", "表达能力": "expressivity", "收敛": "convergence",
    "梯度下降": "gradient descent",
    "随机梯度下降": "stochastic gradient descent", "损失景观": "loss landscape", "过参数化": "overparameterization",
    "神经正切核": "neural tangent kernel", "双下降": "double descent", "顿悟": "grokking", "鲁棒性": "robustness",
    "对抗攻击": "adversarial attack", "对抗样本": "adversarial example", "不确定性": "uncertainty",
    "因果推断": "causal inference", "因果": "causal", "贝叶斯": "Bayesian", "概率": "probabilistic",
    "统计学习": "statistical learning", "学习理论": "learning theory", "可扩展": "scalable",
    # understanding models
    "可解释性": "interpretability", "可解释": "interpretable", "机制可解释性": "mechanistic interpretability",
    "特征归因": "feature attribution", "归因": "attribution", "探针": "probing", "电路": "circuit",
    "表征": "representation", "表示": "representation",
    # safety
    "安全": "safety", "对齐": "alignment", "价值对齐": "value alignment", "越狱": "jailbreak", "红队": "red teaming",
    "提示注入": "prompt injection", "幻觉": "hallucination", "可信": "trustworthy", "隐私": "privacy",
    "差分隐私": "differential privacy", "公平性": "fairness", "偏见": "bias", "水印": "watermark",
    "后门": "backdoor", "奖励欺骗": "reward hacking", "有害内容": "harmful content",
    # agents and robots
    "智能体": "agent", "多智能体": "multi-agent", "代理": "agent",
    "代理模型": "surrogate model", "具身智能": "embodied AI", "具身": "embodied",
    "机器人": "robot", "机器人学习": "robot learning", "机器人操作": "robot manipulation",
    "灵巧操作": "dexterous manipulation", "抓取": "grasping",
    "导航": "navigation", "自动驾驶": "autonomous driving", "规划": "planning", "工具调用": "tool use",
    "工具使用": "tool use", "网页": "web", "图形界面": "GUI", "手机": "mobile", "视觉定位": "visual grounding",
    "定位": "localization", "目标定位": "object localization",
    # vision, language, speech
    "计算机视觉": "computer vision", "图像生成": "image generation", "视频生成": "video generation",
    "图像理解": "image understanding", "视频理解": "video understanding", "图像": "image", "视频": "video",
    "目标检测": "object detection", "图像分割": "image segmentation", "语义分割": "semantic segmentation",
    "分割": "segmentation", "检测": "detection", "三维重建": "3D reconstruction", "三维": "3D", "点云": "point cloud",
    "神经辐射场": "neural radiance field", "高斯泼溅": "Gaussian splatting", "姿态估计": "pose estimation",
    "超分辨率": "super-resolution", "文生图": "text-to-image", "文本生成图像": "text-to-image",
    "自然语言处理": "natural language processing", "机器翻译": "machine translation", "问答": "question answering",
    "对话": "dialogue", "文本生成": "text generation", "代码生成": "code generation", "代码": "code",
    "数学推理": "mathematical reasoning", "定理证明": "theorem proving", "语音识别": "speech recognition",
    "语音合成": "speech synthesis", "语音": "speech", "音频": "audio", "音乐": "music",
    "推荐系统": "recommender system", "推荐": "recommendation", "搜索": "search", "知识图谱": "knowledge graph",
    "图学习": "graph learning", "时间序列": "time series", "异常检测": "anomaly detection",
    # systems and efficiency
    "分布式训练": "distributed training", "分布式": "distributed", "并行": "parallelism", "训练": "training",
    "推断": "inference", "加速": "acceleration", "高效": "efficient", "效率": "efficiency", "内存": "memory",
    "显存": "GPU memory", "硬件": "hardware", "编译器": "compiler", "边缘设备": "edge device", "端侧": "on-device",
    # data and evaluation
    "数据集": "dataset", "基准": "benchmark", "基准测试": "benchmark", "评测": "evaluation", "评估": "evaluation",
    "合成数据": "synthetic data", "数据": "data", "标注": "annotation",
    # science and health
    "科学发现": "scientific discovery", "蛋白质": "protein", "分子": "molecule", "药物发现": "drug discovery",
    "医学影像": "medical imaging", "医学": "medical", "医疗": "healthcare", "遥感": "remote sensing",
    "气象": "weather", "材料": "materials", "化学": "chemistry", "物理": "physics", "生物": "biology",
    # everyday words of research phrases
    "生成": "generation", "理解": "understanding", "模型": "model", "学习": "learning", "网络": "network",
    "方法": "method", "架构": "architecture", "结构": "architecture", "结构化": "structured", "算法": "algorithm",
    "视觉": "vision", "输出": "output", "系统": "system",
    "语言": "language", "文本": "text", "知识": "knowledge", "记忆": "memory", "长文本": "long context",
    "统一": "unified", "新架构": "new architecture", "新范式": "new paradigm", "新技术": "new technique",
    "技术": "technique", "新方法": "new method", "综述": "survey", "应用": "application", "框架": "framework",
    # terms the labelled days' Chinese reasons use often that the lists above missed
    "遗忘": "forgetting", "灾难性遗忘": "catastrophic forgetting", "机器遗忘": "machine unlearning",
    "自回归": "autoregressive", "跨模态": "cross-modal", "正则化": "regularization", "梯度": "gradient",
    "对抗": "adversarial", "攻击": "attack", "防御": "defense", "噪声": "noise", "去噪": "denoising",
    "采样": "sampling", "轨迹": "trajectory", "几何": "geometry", "编辑": "editing", "模型编辑": "model editing",
    "知识编辑": "knowledge editing", "图像编辑": "image editing", "激活": "activation", "稀疏激活": "sparse activation",
    "鲁棒": "robust", "漂移": "drift", "分布偏移": "distribution shift", "分布漂移": "distribution shift",
    "残差": "residual", "归一化": "normalization", "高斯": "Gaussian", "流形": "manifold", "子空间": "subspace",
    "超参数": "hyperparameter", "聚类": "clustering", "反事实": "counterfactual", "吞吐量": "throughput",
    "延迟": "latency", "路由": "routing", "掩码": "mask", "编码器": "encoder", "解码器": "decoder", "先验": "prior",
    "校准": "calibration", "偏好": "preference", "损失函数": "loss function", "损失": "loss", "感知": "perception",
    "语义": "semantic", "分类": "classification", "回归": "regression", "复杂度": "complexity",
    "样本复杂度": "sample complexity", "特征": "feature", "特征学习": "feature learning", "神经元": "neuron",
    "概念": "concept", "序列建模": "sequence modeling", "深度估计": "depth estimation", "光流": "optical flow",
    "跟踪": "tracking", "重建": "reconstruction", "渲染": "rendering", "奖励黑客": "reward hacking",
    "策略梯度": "policy gradient", "价值函数": "value function", "决策": "decision making",
    "运动规划": "motion planning", "仿真": "simulation", "数据增强": "data augmentation", "摘要": "summarization",
    "情感": "emotion", "情感分析": "sentiment analysis", "扩散": "diffusion", "规模定律": "scaling law",
    "涌现": "emergence", "核方法": "kernel method", "可控生成": "controllable generation", "风格迁移": "style transfer",
    "动作": "action", "运动": "motion", "人体": "human body", "人脸": "face", "隐式": "implicit", "显式": "explicit",
    "偏差": "bias", "隐式偏差": "implicit bias", "隐式正则化": "implicit regularization", "自适应": "adaptive",
    "一致性": "consistency", "稳定性": "stability", "预测": "prediction", "可靠性": "reliability", "融合": "fusion",
    "分解": "decomposition", "约束": "constraint", "细粒度": "fine-grained", "轻量级": "lightweight",
    "轻量": "lightweight", "多样性": "diversity", "解耦": "disentanglement", "离散": "discrete", "连续": "continuous",
    "潜在": "latent", "潜空间": "latent space", "隐空间": "latent space", "指令": "instruction",
    "分层": "hierarchical", "层次化": "hierarchical", "接地": "grounding", "冗余": "redundancy", "实时": "real-time",
    "权衡": "trade-off", "环境": "environment", "交互": "interaction", "部署": "deployment", "瓶颈": "bottleneck",
    "计算": "computation", "量子": "quantum", "量子计算": "quantum computing", "神经符号": "neuro-symbolic",
    "脉冲神经网络": "spiking neural network", "类脑": "brain-inspired",
}

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")  # Chinese characters (also guess_language's)
_CJK_PUNCTUATION = re.compile(r"[\u3000-\u303f\uff01-\uff0f\uff1a-\uff20]+")  # 、。「」：，etc.
_LONGEST = max(map(len, GLOSSARY))
# Words around terms that name no topic: particles and connectives, and the generic nouns readers add
# ("大模型安全相关研究"). They are dropped without a word; any other character the glossary lacks is reported.
_FILLER = re.compile("相关|研究|方向|领域|问题|方面|工作|论文|最新|进展|以及|及其|包括|尤其|特别|比如|例如|"
                     "[的之与和及或在中等对于为以了吗呢把被地得上下里们着过其并且也还就都很最更该此这那些个种类]")


def _split(run: str) -> tuple[list[str], list[str]]:
    """The English of the glossary terms in a run of Chinese characters, longest match first, and the runs
    of characters between them that the glossary does not know."""
    found: list[str] = []
    unknown: list[str] = []
    gap = ""
    i = 0
    while i < len(run):
        for size in range(min(_LONGEST, len(run) - i), 0, -1):
            english = GLOSSARY.get(run[i:i + size])
            if english is not None:
                if not found or found[-1] != english:
                    found.append(english)
                unknown.append(gap)
                gap = ""
                i += size
                break
        else:
            gap += run[i]
            i += 1
    unknown.append(gap)
    return found, [g for g in unknown if g]


def _segment(run: str) -> list[str]:
    """The English of the glossary terms in a run of Chinese characters; unknown characters are skipped."""
    return _split(run)[0]


def unread_terms(phrases: Iterable[str]) -> tuple[str, ...]:
    """The Chinese words of `phrases` that `english_phrase` cannot read (particles and generic words such as
    研究 or 相关 aside), once each, in order (pure): what a reader should add in English."""
    out: dict[str, None] = {}
    for phrase in phrases:
        for run in CJK.findall(phrase):
            for gap in _split(run)[1]:
                for word in _FILLER.split(gap):
                    if word:
                        out.setdefault(word)
    return tuple(out)


@lru_cache(maxsize=4096)
def english_phrase(phrase: str) -> str:
    """`phrase` with each run of Chinese characters replaced by the English of the terms it holds; "" when
    nothing of it can be read in English (pure)."""
    text = CJK.sub(lambda m: f" {' '.join(_segment(m.group(0)))} ", _CJK_PUNCTUATION.sub(" ", phrase))
    text = " ".join(text.split())
    return text if re.search(r"[A-Za-z0-9]", text) else ""
