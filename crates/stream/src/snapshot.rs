//! The engine's checkpoint format, version 2: compact little-endian binary, written and read by
//! hand (no serialisation framework), so a record costs about 10 bytes instead of ~65 in JSON.
//!
//! ```text
//! snapshot  = "SXSNAP" version:u32le count:uv customer*count        (customers in id order)
//! customer  = id:str latest:sv records baseline rules
//! records   = count:uv (head:u8 ts:sv amount:sv category:u8 channel:u8 country:[u8;2])*count
//! baseline  = first:time transactions:uv approved:uv spend_n:uv mean:f64le m2:f64le
//!             countries:(count:uv [u8;2]*) categories:uv mccs:(count:uv uv*)
//!             paydays:(count:uv (ts:time amount:sv)*) balances:(count:uv (account:str
//!             minor:sv currency:str ts:time)*) recurring:(count:uv (merchant:str amount:sv
//!             ts:time)*)
//! rules     = count:uv (rule_id:str has:u8 [last_fired:time] [cycle:time]
//!             runs:(count:uv (pos:uv start:time events:(count:uv str*))*))*  (in rule-id order)
//! ```
//!
//! `uv` is an unsigned LEB128 varint, `sv` a zigzag-encoded signed varint, `str` a `uv` byte
//! length and UTF-8, `time` an `sv` offset from the customer's `latest`. A record's `ts` is an
//! offset from the previous record's (the first one's from `latest`); its `head` byte holds the
//! record flags in the low bits and [`WHOLE_SECONDS`] when the offset is stored in seconds.
//! `has` bit 0 / bit 1: `last_fired` / `cycle` present. The reader checks every length against
//! the bytes left, so arbitrary input gives an error, never a panic or a huge allocation.

use crate::engine::SnapshotError;

/// The first bytes of every snapshot.
pub(crate) const MAGIC: &[u8; 6] = b"SXSNAP";
/// In a record's head byte: the time offset is in whole seconds (the common case).
pub(crate) const WHOLE_SECONDS: u8 = 0x80;

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends little-endian values to a buffer.
pub(crate) struct Writer {
    pub buf: Vec<u8>,
    /// Times are written as offsets from this (the current customer's newest event).
    pub base: i64,
}

impl Writer {
    pub fn with_capacity(n: usize) -> Writer {
        Writer {
            buf: Vec::with_capacity(n),
            base: 0,
        }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    pub fn u32_le(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    pub fn f64(&mut self, v: f64) {
        self.buf.extend_from_slice(&v.to_bits().to_le_bytes());
    }

    pub fn uv(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push(v as u8 | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub fn sv(&mut self, v: i64) {
        self.uv(zigzag(v));
    }

    pub fn count(&mut self, n: usize) {
        self.uv(n as u64);
    }

    pub fn str(&mut self, s: &str) {
        self.count(s.len());
        self.bytes(s.as_bytes());
    }

    pub fn time(&mut self, ts: i64) {
        self.sv(ts.wrapping_sub(self.base));
    }
}

/// Reads what [`Writer`] wrote; every failure is [`SnapshotError::Malformed`] with the offset.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    /// As [`Writer::base`].
    pub base: i64,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader {
            buf,
            pos: 0,
            base: 0,
        }
    }

    pub fn malformed(&self, what: &str) -> SnapshotError {
        SnapshotError::Malformed(format!("{what} at byte {} of {}", self.pos, self.buf.len()))
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn take(&mut self, n: usize) -> Result<&'a [u8], SnapshotError> {
        if n > self.remaining() {
            return Err(self.malformed("the data ends early"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], SnapshotError> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    pub fn u8(&mut self) -> Result<u8, SnapshotError> {
        Ok(self.array::<1>()?[0])
    }

    pub fn u32_le(&mut self) -> Result<u32, SnapshotError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    pub fn f64(&mut self) -> Result<f64, SnapshotError> {
        Ok(f64::from_bits(u64::from_le_bytes(self.array()?)))
    }

    pub fn uv(&mut self) -> Result<u64, SnapshotError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 {
                return Err(self.malformed("a varint overflows 64 bits"));
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.malformed("a varint is longer than 10 bytes"))
    }

    pub fn sv(&mut self) -> Result<i64, SnapshotError> {
        Ok(unzigzag(self.uv()?))
    }

    /// An unsigned value that must fit `T` (a count, a position, a code).
    pub fn uv_as<T: TryFrom<u64>>(&mut self) -> Result<T, SnapshotError> {
        let v = self.uv()?;
        T::try_from(v).map_err(|_| self.malformed(&format!("value {v} out of range")))
    }

    /// A count of items each taking at least `min_bytes`: never more than the bytes left allow,
    /// so a corrupt count cannot make the reader allocate without bound.
    pub fn count(&mut self, min_bytes: usize) -> Result<usize, SnapshotError> {
        let n = self.uv()?;
        if n > (self.remaining() / min_bytes.max(1)) as u64 {
            return Err(self.malformed(&format!("a count of {n} exceeds the data")));
        }
        Ok(n as usize)
    }

    pub fn str(&mut self) -> Result<&'a str, SnapshotError> {
        let n = self.count(1)?;
        let b = self.take(n)?;
        std::str::from_utf8(b).map_err(|_| self.malformed("a string is not UTF-8"))
    }

    pub fn time(&mut self) -> Result<i64, SnapshotError> {
        Ok(self.sv()?.wrapping_add(self.base))
    }

    /// The end: trailing bytes are an error.
    pub fn finish(&self) -> Result<(), SnapshotError> {
        if self.remaining() > 0 {
            return Err(self.malformed("trailing bytes"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_at_every_width_and_reject_overlong() {
        let values = [0, 1, -1, 63, -64, 64, 127, 128, i64::MAX, i64::MIN, 1 << 40];
        let mut w = Writer::with_capacity(0);
        for v in values {
            w.sv(v);
            w.uv(v as u64);
        }
        let mut r = Reader::new(&w.buf);
        for v in values {
            assert_eq!(r.sv().unwrap(), v);
            assert_eq!(r.uv().unwrap(), v as u64);
        }
        r.finish().unwrap();
        let mut w = Writer::with_capacity(0);
        w.uv(300);
        assert_eq!(w.buf, [0xac, 0x02]);
        assert_eq!(zigzag(-1), 1);
        assert_eq!(zigzag(1), 2);
        // 11 continuation bytes, and a 10th byte carrying more than the 64th bit.
        assert!(Reader::new(&[0xff; 11]).uv().is_err());
        let mut over = vec![0xff; 9];
        over.push(0x02);
        assert!(Reader::new(&over).uv().is_err());
        let mut max = vec![0xff; 9];
        max.push(0x01);
        assert_eq!(Reader::new(&max).uv().unwrap(), u64::MAX);
        // Counts larger than the data left are refused before any allocation.
        assert!(Reader::new(&[0x05, 1, 2]).count(1).is_err());
        assert!(Reader::new(&[0x02, 0xff, 0xfe]).str().is_err(), "not UTF-8");
    }
}
