//! Byte transport for the serial drivers: any async byte stream, a serial port, framed reads.
//!
//! Invariants:
//! - Drivers are generic over [`ByteStream`], so tests run them on `tokio::io::duplex` and
//!   production runs them on a [`tokio_serial::SerialStream`] opened by [`open_serial`].
//! - Every read of a reply has a deadline ([`Link::read_frame`]): no reply in time is
//!   [`DeviceErrorKind::Timeout`], bytes that cannot start or form a frame are
//!   [`DeviceErrorKind::Garbage`], end of stream or a broken pipe is
//!   [`DeviceErrorKind::Disconnected`]. A frame split across many reads is reassembled.
//! - Stale input (the late tail of a reply that already timed out) is discarded before each
//!   command, so it can never be taken for the next command's reply.
//! - Deadlines use tokio's timer, not the run's [`crate::Clock`]: they guard against hardware
//!   that hangs in real time, and a virtual clock would fire them at once. Tests pause tokio's
//!   timer, which auto-advances when every task is idle, so timeout tests take no real time.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::error::DeviceErrorKind;

pub use tokio_serial::{DataBits, FlowControl, Parity, StopBits};

/// Any bidirectional async byte stream a driver can talk through.
pub trait ByteStream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> ByteStream for T {}

/// A type-erased stream, for drivers built at run time from a lab binding.
pub type BoxedStream = Box<dyn ByteStream>;

/// Result of the link layer: the driver adds its device name to make a [`crate::DeviceError`].
pub type LinkResult<T> = Result<T, DeviceErrorKind>;

/// Line settings of a serial port. Each driver module has a `serial_settings(baud)` with its
/// protocol's defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SerialSettings {
    pub baud: u32,
    pub data_bits: DataBits,
    pub parity: Parity,
    pub stop_bits: StopBits,
    pub flow_control: FlowControl,
}

impl SerialSettings {
    /// 8 data bits, no parity, 1 stop bit, no flow control: what most instruments here use.
    pub fn eight_n_one(baud: u32) -> Self {
        Self {
            baud,
            data_bits: DataBits::Eight,
            parity: Parity::None,
            stop_bits: StopBits::One,
            flow_control: FlowControl::None,
        }
    }
}

/// Opens a serial port (a real device or a pseudo-terminal) with the given line settings.
pub fn open_serial(
    path: &str,
    settings: &SerialSettings,
) -> LinkResult<tokio_serial::SerialStream> {
    use tokio_serial::SerialPortBuilderExt as _;
    tokio_serial::new(path, settings.baud)
        .data_bits(settings.data_bits)
        .parity(settings.parity)
        .stop_bits(settings.stop_bits)
        .flow_control(settings.flow_control)
        .open_native_async()
        .map_err(|error| match error.kind() {
            tokio_serial::ErrorKind::NoDevice => {
                DeviceErrorKind::Disconnected(format!("cannot open {path}: {error}"))
            }
            _ => DeviceErrorKind::Io(format!("cannot open {path}: {error}")),
        })
}

/// What a frame decoder says about the bytes received so far.
#[derive(Debug, Clone, PartialEq)]
pub enum Decoded<T> {
    /// A whole frame, made of the first `consumed` bytes.
    Frame { value: T, consumed: usize },
    /// A frame that is whole unless more bytes follow within the link's settle time: for
    /// protocols whose replies have no end marker (a prompt that may also begin a data line).
    FrameUnlessMore { value: T, consumed: usize },
    /// Not enough bytes yet.
    Incomplete,
    /// These bytes cannot be (the start of) a valid frame.
    Invalid(String),
}

/// The longest reply any driver here accepts before calling the input garbage. The largest
/// real frame is an Ocean spectrum of 2048 DWORD pixels.
const MAX_FRAME: usize = 16 * 1024;

/// A byte stream with a receive buffer, a reply deadline and the error mapping above.
pub struct Link<S> {
    stream: S,
    input: Vec<u8>,
    timeout: Duration,
    settle: Duration,
    /// Set when the last reply was not read to its end (timeout, garbage): the stream may
    /// still deliver its tail.
    dirty: bool,
    /// Set once the stream has ended: later calls fail at once.
    closed: bool,
}

impl<S> std::fmt::Debug for Link<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("buffered", &self.input.len())
            .field("timeout", &self.timeout)
            .field("settle", &self.settle)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl<S: ByteStream> Link<S> {
    /// A link whose replies must be complete within `timeout` of the read starting.
    pub fn new(stream: S, timeout: Duration) -> Self {
        Self {
            stream,
            input: Vec::new(),
            timeout,
            settle: Duration::from_millis(30),
            dirty: false,
            closed: false,
        }
    }

    /// Sets how long a [`Decoded::FrameUnlessMore`] frame waits for more bytes.
    pub fn with_settle(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
    }

    pub fn set_settle(&mut self, settle: Duration) {
        self.settle = settle;
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Writes one command, after discarding any stale input.
    pub async fn send(&mut self, bytes: &[u8]) -> LinkResult<()> {
        if self.closed {
            return Err(DeviceErrorKind::Disconnected("stream closed".into()));
        }
        self.discard_stale().await?;
        let written = async {
            self.stream.write_all(bytes).await?;
            self.stream.flush().await
        }
        .await;
        written.map_err(|error| self.io_error(&error))
    }

    /// Reads one frame, reassembling it from as many reads as it takes, within the timeout.
    pub async fn read_frame<T>(
        &mut self,
        mut decode: impl FnMut(&[u8]) -> Decoded<T>,
    ) -> LinkResult<T> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let mut pending = match decode(&self.input) {
                Decoded::Frame { value, consumed } => {
                    self.consume(consumed);
                    return Ok(value);
                }
                Decoded::FrameUnlessMore { value, consumed } => Some((value, consumed)),
                Decoded::Incomplete => None,
                Decoded::Invalid(why) => {
                    self.dirty = true;
                    let shown = escape(&self.input);
                    self.input.clear();
                    return Err(DeviceErrorKind::Garbage(format!("{why}: {shown}")));
                }
            };
            if self.input.len() > MAX_FRAME {
                self.dirty = true;
                self.input.clear();
                return Err(DeviceErrorKind::Garbage(format!(
                    "more than {MAX_FRAME} bytes without a complete reply"
                )));
            }
            let now = tokio::time::Instant::now();
            let wait_until = match &pending {
                Some(_) => deadline.min(now + self.settle),
                None => deadline,
            };
            match self.read_some_until(wait_until).await? {
                true => {}
                false => {
                    if let Some((value, consumed)) = pending.take() {
                        self.consume(consumed);
                        return Ok(value);
                    }
                    // A partial frame at the deadline is a timeout too: the device stopped
                    // talking mid-reply, which a retry may cure, unlike a malformed frame.
                    self.dirty = true;
                    self.input.clear();
                    return Err(DeviceErrorKind::Timeout(self.timeout));
                }
            }
        }
    }

    /// Reads whatever arrives before `until`; false when nothing arrived in time.
    async fn read_some_until(&mut self, until: tokio::time::Instant) -> LinkResult<bool> {
        let mut chunk = [0u8; 512];
        match tokio::time::timeout_at(until, self.stream.read(&mut chunk)).await {
            Err(_elapsed) => Ok(false),
            Ok(Ok(0)) => {
                self.closed = true;
                Err(DeviceErrorKind::Disconnected("end of stream".into()))
            }
            Ok(Ok(n)) => {
                self.input.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
                Ok(true)
            }
            Ok(Err(error)) => Err(self.io_error(&error)),
        }
    }

    /// Drops buffered input and whatever the stream has ready right now.
    async fn discard_stale(&mut self) -> LinkResult<()> {
        self.input.clear();
        if !self.dirty {
            return Ok(());
        }
        // A zero deadline still polls the read once, so ready bytes are taken and nothing waits.
        loop {
            let now = tokio::time::Instant::now();
            match self.read_some_until(now).await {
                Ok(true) => self.input.clear(),
                Ok(false) => break,
                Err(error) => return Err(error),
            }
        }
        self.dirty = false;
        Ok(())
    }

    fn consume(&mut self, consumed: usize) {
        let consumed = consumed.min(self.input.len());
        self.input.drain(..consumed);
        // Bytes after a whole frame belong to nothing we asked for.
        if !self.input.is_empty() {
            self.dirty = true;
        }
    }

    fn io_error(&mut self, error: &std::io::Error) -> DeviceErrorKind {
        use std::io::ErrorKind as K;
        match error.kind() {
            K::UnexpectedEof
            | K::BrokenPipe
            | K::ConnectionReset
            | K::ConnectionAborted
            | K::NotConnected => {
                self.closed = true;
                DeviceErrorKind::Disconnected(error.to_string())
            }
            _ => DeviceErrorKind::Io(error.to_string()),
        }
    }
}

/// A link shared by several drivers (pumps on one RS-232 daisy chain). Each command–reply
/// transaction holds the lock, so replies can never be taken by the wrong driver.
pub type SharedLink<S> = Arc<tokio::sync::Mutex<Link<S>>>;

/// Wraps a link for sharing.
pub fn share<S>(link: Link<S>) -> SharedLink<S> {
    Arc::new(tokio::sync::Mutex::new(link))
}

/// Shows bytes for an error message: printable ASCII as is, the rest escaped, cut at 64 bytes.
pub fn escape(bytes: &[u8]) -> String {
    let shown: String = bytes
        .iter()
        .take(64)
        .flat_map(|b| b.escape_ascii())
        .map(char::from)
        .collect();
    if bytes.len() > 64 {
        format!("{shown}... ({} bytes)", bytes.len())
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(buf: &[u8]) -> Decoded<String> {
        match buf.iter().position(|&b| b == b'\n') {
            Some(end) => Decoded::Frame {
                value: String::from_utf8_lossy(buf.get(..end).unwrap_or(&[])).into_owned(),
                consumed: end + 1,
            },
            None if buf.first() == Some(&0xff) => Decoded::Invalid("bad start".into()),
            None => Decoded::Incomplete,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn reassembles_a_frame_split_across_writes() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut link = Link::new(a, Duration::from_secs(1));
        let writer = tokio::spawn(async move {
            b.write_all(b"hel").await.ok();
            tokio::time::sleep(Duration::from_millis(10)).await;
            b.write_all(b"lo\n").await.ok();
            b
        });
        assert_eq!(link.read_frame(line).await, Ok("hello".to_string()));
        drop(writer.await);
    }

    #[tokio::test(start_paused = true)]
    async fn silence_is_a_timeout_and_eof_a_disconnect() {
        let (a, b) = tokio::io::duplex(64);
        let mut link = Link::new(a, Duration::from_millis(500));
        assert_eq!(
            link.read_frame(line).await,
            Err(DeviceErrorKind::Timeout(Duration::from_millis(500)))
        );
        drop(b);
        assert!(matches!(
            link.read_frame(line).await,
            Err(DeviceErrorKind::Disconnected(_))
        ));
        assert!(matches!(
            link.send(b"x").await,
            Err(DeviceErrorKind::Disconnected(_))
        ));
    }

    #[tokio::test(start_paused = true)]
    async fn invalid_bytes_are_garbage_and_stale_input_is_dropped() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut link = Link::new(a, Duration::from_millis(500));
        b.write_all(&[0xff, 0x00]).await.ok();
        assert!(matches!(
            link.read_frame(line).await,
            Err(DeviceErrorKind::Garbage(_))
        ));
        // A late tail of the garbled reply, then the real reply to the next command.
        b.write_all(b"stale\n").await.ok();
        link.send(b"next").await.ok();
        b.write_all(b"fresh\n").await.ok();
        assert_eq!(link.read_frame(line).await, Ok("fresh".to_string()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_partial_reply_at_the_deadline_is_a_timeout() {
        let (a, mut b) = tokio::io::duplex(64);
        let mut link = Link::new(a, Duration::from_millis(500));
        b.write_all(b"half").await.ok();
        assert_eq!(
            link.read_frame(line).await,
            Err(DeviceErrorKind::Timeout(Duration::from_millis(500)))
        );
    }
}
