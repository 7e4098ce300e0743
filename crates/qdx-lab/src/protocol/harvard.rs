//! Harvard Apparatus "Ultra" command set (Pump 11 Elite, PHD Ultra): framing, prompts, units.
//!
//! A reply is zero or more data lines `\n[##:]text\r` and then a prompt `\n[##]p`, where
//! `p` is `:` idle, `>` infusing, `<` withdrawing, `*` stalled or `T*` target reached, and
//! `##` is the two-digit address for pumps at a non-zero address.
//!
//! Invariant: [`decode`] never accepts a frame whose lines carry another pump's address. For a
//! non-zero address the prompt `\n01:` is also how a data line `\n01:text\r` begins, so such a
//! prompt is only final once the line has stayed quiet for the link's settle time.

use crate::transport::Decoded;

/// The pump's state as its prompt says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt {
    Idle,
    Infusing,
    Withdrawing,
    Stalled,
    TargetReached,
}

impl Prompt {
    pub fn text(self) -> &'static str {
        match self {
            Self::Idle => ":",
            Self::Infusing => ">",
            Self::Withdrawing => "<",
            Self::Stalled => "*",
            Self::TargetReached => "T*",
        }
    }

    fn from_text(text: &str) -> Option<Self> {
        Some(match text {
            ":" => Self::Idle,
            ">" => Self::Infusing,
            "<" => Self::Withdrawing,
            "*" => Self::Stalled,
            "T*" => Self::TargetReached,
            _ => return None,
        })
    }
}

/// One reply: its data lines (address prefix removed) and its prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub lines: Vec<String>,
    pub prompt: Prompt,
}

/// Error texts the pump prints as a data line.
pub const ERRORS: [&str; 4] = [
    "Command error",
    "Unknown command",
    "Argument error",
    "Out of range",
];

const MAX_LINE: usize = 128;

/// The firmware families, which differ in address form and `status` layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Pump 11 Elite (manual 5420-002 Rev C): `12irat`, six status flags.
    Pump11Elite,
    /// PHD ULTRA (manual 5419-002 Rev A): `12:irat`, five status flags.
    PhdUltra,
}

impl Model {
    /// What follows the address in a command: nothing on the Elite (`12irat 3.2 u/m`), a
    /// colon on the PHD ULTRA (`12:irat 3.2 ul/min`, its manual p. 83).
    pub fn address_separator(self) -> &'static str {
        match self {
            Self::Pump11Elite => "",
            Self::PhdUltra => ":",
        }
    }

    /// Flags in the `status` line: six on the Elite (pp. 52–58), five on the PHD ULTRA
    /// (p. 88: direction, limit, stall, trigger, direction port; no target reached).
    pub fn status_flags(self) -> usize {
        match self {
            Self::Pump11Elite => 6,
            Self::PhdUltra => 5,
        }
    }
}

/// Frames a command: `[addr[sep]]command\r` (no address for pump 0).
pub fn encode(model: Model, address: u8, command: &str) -> Vec<u8> {
    let mut frame = if address == 0 {
        String::new()
    } else {
        format!("{address}{}", model.address_separator())
    };
    frame.push_str(command);
    frame.push('\r');
    frame.into_bytes()
}

/// The address prefix of data lines and prompts: `""` for pump 0, `"01"` for pump 1.
pub fn address_prefix(address: u8) -> String {
    if address == 0 {
        String::new()
    } else {
        format!("{address:02}")
    }
}

/// Formats a reply the way the pump sends it.
pub fn format_reply(address: u8, lines: &[String], prompt: Prompt) -> Vec<u8> {
    let prefix = address_prefix(address);
    let mut out = String::new();
    for line in lines {
        out.push('\n');
        if !prefix.is_empty() {
            out.push_str(&prefix);
            out.push(':');
        }
        out.push_str(line);
        out.push('\r');
    }
    out.push('\n');
    out.push_str(&prefix);
    out.push_str(prompt.text());
    out.into_bytes()
}

/// Decodes one reply of the pump at `address`.
pub fn decode(address: u8, buf: &[u8]) -> Decoded<Reply> {
    let prefix = address_prefix(address);
    let mut lines = Vec::new();
    let mut at = 0;
    loop {
        let Some(&first) = buf.get(at) else {
            return Decoded::Incomplete;
        };
        if first != b'\n' {
            return Decoded::Invalid("reply line does not start with LF".into());
        }
        let rest = buf.get(at + 1..).unwrap_or(&[]);
        let end = rest.iter().position(|&b| b == b'\r' || b == b'\n');
        match end.and_then(|e| rest.get(e).map(|&b| (e, b))) {
            Some((e, b'\r')) => {
                let text = String::from_utf8_lossy(rest.get(..e).unwrap_or(&[])).into_owned();
                let text = if prefix.is_empty() {
                    text
                } else {
                    match text.strip_prefix(&format!("{prefix}:")) {
                        Some(stripped) => stripped.to_string(),
                        None => {
                            return Decoded::Invalid(format!(
                                "data line {text:?} is not from address {address}"
                            ));
                        }
                    }
                };
                lines.push(text);
                at += e + 2;
            }
            Some((e, _)) => {
                // A prompt followed by another LF: the prompt must be complete already.
                let text = String::from_utf8_lossy(rest.get(..e).unwrap_or(&[])).into_owned();
                return Decoded::Invalid(format!("unexpected line {text:?}"));
            }
            None => {
                if rest.len() > MAX_LINE {
                    return Decoded::Invalid("line too long".into());
                }
                let text = String::from_utf8_lossy(rest);
                // Not (yet) a prompt: a data line still arriving.
                let Some(prompt_text) = text.strip_prefix(prefix.as_str()) else {
                    return Decoded::Incomplete;
                };
                let Some(prompt) = Prompt::from_text(prompt_text) else {
                    return Decoded::Incomplete;
                };
                let consumed = at + 1 + rest.len();
                let reply = Reply { lines, prompt };
                // `\n01:` may begin a data line of pump 1; `\nT` may become `\nT*`.
                return if address == 0 {
                    Decoded::Frame {
                        value: reply,
                        consumed,
                    }
                } else {
                    Decoded::FrameUnlessMore {
                        value: reply,
                        consumed,
                    }
                };
            }
        }
    }
}

/// A rate unit `v/t`: volume `m u n p` (L prefixes) per time `h m s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateUnit {
    pub volume: char,
    pub time: char,
}

impl RateUnit {
    /// In the order the driver prefers them.
    pub const ALL: [RateUnit; 8] = [
        RateUnit {
            volume: 'm',
            time: 'm',
        },
        RateUnit {
            volume: 'm',
            time: 'h',
        },
        RateUnit {
            volume: 'u',
            time: 'm',
        },
        RateUnit {
            volume: 'u',
            time: 'h',
        },
        RateUnit {
            volume: 'n',
            time: 'm',
        },
        RateUnit {
            volume: 'n',
            time: 'h',
        },
        RateUnit {
            volume: 'p',
            time: 'm',
        },
        RateUnit {
            volume: 'p',
            time: 'h',
        },
    ];

    /// One unit in m³/s; `None` for an unknown letter.
    pub fn si(self) -> Option<f64> {
        Some(volume_si(self.volume)? / time_si(self.time)?)
    }

    /// The command form, `u/m`.
    pub fn short(self) -> String {
        format!("{}/{}", self.volume, self.time)
    }

    /// The reply form, `ul/min`.
    pub fn long(self) -> String {
        let time = match self.time {
            'h' => "hr",
            's' => "s",
            _ => "min",
        };
        format!("{}l/{time}", self.volume)
    }

    /// Parses `u/m` or `ul/min`.
    pub fn parse(text: &str) -> Option<Self> {
        let (volume, time) = text.trim().split_once('/')?;
        let volume = volume.strip_suffix('l').unwrap_or(volume);
        let volume = match volume {
            "m" | "u" | "n" | "p" => volume.chars().next()?,
            _ => return None,
        };
        let time = match time {
            "h" | "hr" => 'h',
            "m" | "min" => 'm',
            "s" | "sec" => 's',
            _ => return None,
        };
        Some(Self { volume, time })
    }
}

/// One litre-prefixed volume unit (`m u n p f`) in m³.
pub fn volume_si(prefix: char) -> Option<f64> {
    Some(match prefix {
        'm' => 1e-6,
        'u' => 1e-9,
        'n' => 1e-12,
        'p' => 1e-15,
        'f' => 1e-18,
        _ => return None,
    })
}

fn time_si(unit: char) -> Option<f64> {
    Some(match unit {
        'h' => 3600.0,
        'm' => 60.0,
        's' => 1.0,
        _ => return None,
    })
}

/// Formats a positive number with at most 4 significant digits, truncated, no trailing zeros.
pub fn format_number(value: f64) -> Option<String> {
    if !value.is_finite() || value <= 0.0 || value >= 1e6 {
        return None;
    }
    let magnitude = value.log10().floor();
    let decimals = (3.0 - magnitude).clamp(0.0, 12.0);
    let scale = 10f64.powf(decimals);
    let truncated = (value * scale + 1e-6).floor() / scale;
    if truncated <= 0.0 {
        return None;
    }
    let text = format!("{truncated:.prec$}", prec = decimals as usize);
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    Some(text)
}

/// Expresses a rate in the first unit that gives a value in [1, 10 000).
pub fn encode_rate(rate: f64) -> Option<(String, RateUnit)> {
    if !rate.is_finite() || rate <= 0.0 {
        return None;
    }
    let unit = RateUnit::ALL.into_iter().find(|unit| {
        unit.si()
            .is_some_and(|si| (1.0..10_000.0).contains(&(rate / si)))
    })?;
    Some((format_number(rate / unit.si()?)?, unit))
}

/// Parses `100 ul/min` into m³/s.
pub fn parse_rate(text: &str) -> Option<f64> {
    let (number, unit) = text.trim().split_once(' ')?;
    let value: f64 = number.parse().ok()?;
    Some(value * RateUnit::parse(unit)?.si()?)
}

/// Parses a volume such as `0.25 ml` into m³.
pub fn parse_volume(text: &str) -> Option<f64> {
    let (number, unit) = text.trim().split_once(' ')?;
    let value: f64 = number.parse().ok()?;
    let mut chars = unit.chars();
    let (prefix, l) = (chars.next()?, chars.next()?);
    (l == 'l' && chars.next().is_none()).then_some(())?;
    Some(value * volume_si(prefix)?)
}

/// Formats a volume (m³) as the pump prints it: `0.25 ml`, `12.5 ul`, ...
pub fn format_volume(volume: f64) -> String {
    let (unit, scale) = if volume >= 1e-6 {
        ("ml", 1e-6)
    } else if volume >= 1e-9 || volume <= 0.0 {
        ("ul", 1e-9)
    } else {
        ("nl", 1e-12)
    };
    let number = format_number(volume / scale).unwrap_or_else(|| "0".into());
    format!("{number} {unit}")
}

/// The machine-readable `status` line: three integers and the model's flags.
///
/// Pump 11 Elite (manual 5420-002 Rev C pp. 52–58): rate fL/s, time in 1/56 000 000 s clock
/// cycles, volume fL; six flags: direction `I`/`W` (lower case while the motor is idle),
/// limit, stall `S`, trigger `T`, direction port `I`/`W`, target reached `T`. PHD ULTRA
/// (5419-002 Rev A p. 88): the time is the infuse time in seconds; five flags: direction,
/// limit, stall, trigger, direction port, and no target-reached flag. The PHD ULTRA manual
/// shows the direction flag only in lower case, so on that model the case says nothing about
/// the motor (instruments.md A2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    pub rate_fl_per_s: u64,
    /// Elite: clock cycles; PHD ULTRA: seconds.
    pub time_ticks: u64,
    pub volume_fl: u64,
    pub flags: String,
}

impl StatusLine {
    /// Parses a line of `model`'s layout: exactly its number of flags.
    pub fn parse(line: &str, model: Model) -> Option<Self> {
        let mut parts = line.split_whitespace();
        let status = Self {
            rate_fl_per_s: parts.next()?.parse().ok()?,
            time_ticks: parts.next()?.parse().ok()?,
            volume_fl: parts.next()?.parse().ok()?,
            flags: parts.next()?.to_string(),
        };
        let flags = status.flags.chars().count();
        (parts.next().is_none() && flags == model.status_flags()).then_some(status)
    }

    pub fn format(&self) -> String {
        format!(
            "{} {} {} {}",
            self.rate_fl_per_s, self.time_ticks, self.volume_fl, self.flags
        )
    }

    fn flag(&self, index: usize) -> char {
        self.flags.chars().nth(index).unwrap_or('.')
    }

    /// Upper-case direction: the motor runs (the Elite's meaning; not on the PHD ULTRA).
    pub fn direction_upper_case(&self) -> bool {
        self.flag(0).is_ascii_uppercase()
    }

    pub fn withdrawing(&self) -> bool {
        self.flag(0).eq_ignore_ascii_case(&'w')
    }

    pub fn stalled(&self) -> bool {
        self.flag(2) == 'S'
    }

    /// The sixth flag, `T`: only the Elite has it.
    pub fn target_reached(&self) -> bool {
        self.flag(5) == 'T'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(lines: &[&str], prompt: Prompt) -> Reply {
        Reply {
            lines: lines.iter().map(|s| s.to_string()).collect(),
            prompt,
        }
    }

    #[test]
    fn decodes_the_appendix_replies() {
        assert_eq!(
            decode(0, b"\n:"),
            Decoded::Frame {
                value: reply(&[], Prompt::Idle),
                consumed: 2
            }
        );
        assert_eq!(
            decode(0, b"\n100 ul/min\r\n:"),
            Decoded::Frame {
                value: reply(&["100 ul/min"], Prompt::Idle),
                consumed: 14
            }
        );
        assert!(matches!(
            decode(0, b"\nT*"),
            Decoded::Frame {
                value: Reply {
                    prompt: Prompt::TargetReached,
                    ..
                },
                ..
            }
        ));
        assert_eq!(decode(0, b"\nT"), Decoded::Incomplete);
        assert_eq!(decode(0, b"\n100 ul"), Decoded::Incomplete);
        assert_eq!(
            decode(1, b"\n01:100 ul/min\r\n01:"),
            Decoded::FrameUnlessMore {
                value: reply(&["100 ul/min"], Prompt::Idle),
                consumed: 19
            }
        );
        assert!(matches!(decode(1, b"\n02:x\r\n02:"), Decoded::Invalid(_)));
        assert!(matches!(decode(0, b"xx"), Decoded::Invalid(_)));
    }

    #[test]
    fn numbers_and_units() {
        assert_eq!(format_number(100.0).as_deref(), Some("100"));
        assert_eq!(format_number(3.2).as_deref(), Some("3.2"));
        assert_eq!(format_number(0.123_456).as_deref(), Some("0.1234"));
        assert_eq!(format_number(14.57).as_deref(), Some("14.57"));
        let ul_min = 1e-9 / 60.0;
        // 100 µL/min is 6 mL/h: the first unit that gives a value of at least 1.
        let mh = RateUnit {
            volume: 'm',
            time: 'h',
        };
        let uh = RateUnit {
            volume: 'u',
            time: 'h',
        };
        assert_eq!(encode_rate(100.0 * ul_min), Some(("6".into(), mh)));
        assert_eq!(encode_rate(0.1 * ul_min), Some(("6".into(), uh)));
        let rate = parse_rate("100 ul/min").expect("rate");
        assert!((rate / ul_min - 100.0).abs() < 1e-9);
        assert_eq!(RateUnit::parse("u/m"), RateUnit::parse("ul/min"));
        let volume = parse_volume("0.25 ml").expect("volume");
        assert!((volume - 0.25e-6).abs() < 1e-15);
        assert_eq!(format_volume(0.25e-6), "250 ul");
        assert_eq!(format_volume(2.5e-6), "2.5 ml");
        let elite = Model::Pump11Elite;
        let status = StatusLine::parse("1000000 5600 2000 I..I.T", elite).expect("status");
        assert!(status.direction_upper_case() && !status.withdrawing());
        assert!(status.target_reached());
        assert_eq!(StatusLine::parse("1 2 3", elite), None);
        // PHD ULTRA: direction, limit, stall, trigger, direction port; time in seconds.
        let phd = StatusLine::parse("0 12 2000 w.STW", Model::PhdUltra).expect("five flags");
        assert!(phd.withdrawing() && phd.stalled() && !phd.target_reached());
        assert_eq!(StatusLine::parse("0 12 2000 w.STW", elite), None);
        assert_eq!(
            StatusLine::parse("0 5600 2000 i...I.", Model::PhdUltra),
            None
        );
        assert_eq!(encode(elite, 12, "irat 3.2 u/m"), b"12irat 3.2 u/m\r");
        assert_eq!(
            encode(Model::PhdUltra, 12, "irat 3.2 ul/min"),
            b"12:irat 3.2 ul/min\r"
        );
        assert_eq!(encode(Model::PhdUltra, 0, "irun"), b"irun\r");
    }
}
